from __future__ import annotations

import pytest
import torch

from seedlens.errors import ConfigError, ShapeError
from seedlens.explain.smoothing import gaussian_blur


@pytest.mark.parametrize("shape", [(2, 1, 31, 40), (1, 1, 21, 22, 23)])
def test_impulse_spreads_to_sigma_and_mass_is_kept(shape: tuple[int, ...]) -> None:
    maps = torch.zeros(shape, dtype=torch.float64)
    centre = tuple(s // 2 for s in shape[2:])
    maps[(0, 0, *centre)] = 1.0
    out = gaussian_blur(maps, sigma=2.0)
    assert out.shape == maps.shape
    assert float(out.sum()) == pytest.approx(1.0, rel=1e-6)
    profile = out[0, 0].sum(dim=tuple(range(1, len(shape) - 2)))
    idx = torch.arange(profile.numel(), dtype=torch.float64)
    mean = float((profile * idx).sum())
    assert mean == pytest.approx(centre[0], abs=1e-6)
    assert float(((profile * (idx - mean) ** 2).sum()).sqrt()) == pytest.approx(2.0, rel=0.02)


def test_constant_map_is_unchanged_and_zero_sigma_is_identity() -> None:
    maps = torch.full((1, 1, 9, 9), 3.0)
    assert torch.allclose(gaussian_blur(maps, 2.5), maps)
    assert gaussian_blur(maps, 0) is maps
    assert gaussian_blur(maps, -1.0) is maps


def test_errors() -> None:
    with pytest.raises(ConfigError):
        gaussian_blur(torch.zeros(1, 1, 4, 4), "2")  # type: ignore[arg-type]
    with pytest.raises(ShapeError):
        gaussian_blur(torch.zeros(4), 1.0)
