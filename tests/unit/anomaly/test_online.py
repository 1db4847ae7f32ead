import pytest
import torch

from seedlens.anomaly import ConfettiNoise, OnlineReplacement, OutlierExposure, OutlierSet
from seedlens.errors import ConfigError, ShapeError


def _ones(k: int, side: int) -> OutlierExposure:
    """Outlier Exposure with ``k`` all-ones outliers of ``side``², used as they are."""
    return OutlierExposure(OutlierSet.from_arrays(torch.ones(k, 1, side, side)), lambda a, s: a, (side, side))


@pytest.mark.parametrize("p", [0.2, 0.5, 0.8])
def test_fraction_replaced_is_about_p(p):
    online = OnlineReplacement(_ones(1, 4), p=p)
    x = torch.zeros(1000, 1, 4, 4)
    _, labels, _ = online(x, torch.Generator().manual_seed(0))
    assert labels.mean().item() == pytest.approx(p, abs=0.05)


def test_labels_match_masks_and_normals_are_untouched():
    online = OnlineReplacement(ConfettiNoise(2, value_range=(0.0, 1.0)), p=0.5)
    x = torch.rand(16, 2, 24, 24)
    before = x.clone()
    y, labels, masks = online(x, torch.Generator().manual_seed(1))
    assert torch.equal(x, before)  # input not modified
    assert labels.shape == (16,) and labels.dtype == torch.float32
    assert masks.shape == (16, 1, 24, 24)
    has_mask = masks.flatten(1).amax(dim=1) > 0
    assert torch.equal(has_mask, labels.bool())
    normal = ~labels.bool()
    assert torch.equal(y[normal], x[normal])
    assert not torch.equal(y[~normal], x[~normal])
    assert 0 < labels.sum() < 16


def test_p_zero_and_one_and_determinism():
    gen = _ones(2, 8)
    x = torch.zeros(5, 1, 8, 8)
    _, labels, masks = OnlineReplacement(gen, p=0.0)(x)
    assert labels.sum() == 0 and masks.sum() == 0
    y, labels, masks = OnlineReplacement(gen, p=1.0)(x)
    assert labels.sum() == 5 and torch.equal(y, torch.ones_like(y)) and masks.min() == 1
    online = OnlineReplacement(ConfettiNoise(2), p=0.5)
    a = online(torch.rand(6, 1, 16, 16, generator=torch.Generator().manual_seed(0)), torch.Generator().manual_seed(3))
    b = online(torch.rand(6, 1, 16, 16, generator=torch.Generator().manual_seed(0)), torch.Generator().manual_seed(3))
    for u, v in zip(a, b, strict=True):
        assert torch.equal(u, v)


def test_errors():
    with pytest.raises(ConfigError, match="p must"):
        OnlineReplacement(ConfettiNoise(), p=1.5)
    with pytest.raises(ShapeError, match="batch"):
        OnlineReplacement(ConfettiNoise())(torch.zeros(4, 4))
