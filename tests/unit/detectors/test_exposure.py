"""Training augmentation and the anomalies FCDD and HSC train against."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from seedlens.detectors import FCDD
from seedlens.detectors.exposure import augment_batch, random_flips, random_shifts
from seedlens.detectors.fcdd import FCDDConfig
from seedlens.errors import ConfigError


def _ramp(n: int = 6, size: int = 10) -> torch.Tensor:
    return (torch.arange(size * size, dtype=torch.float32).reshape(1, 1, size, size) + 1).repeat(n, 2, 1, 1)


def test_shifts_move_each_sample_by_its_own_offset_and_fill_with_its_minimum():
    x = _ramp()
    masks = torch.zeros(6, 1, 10, 10)
    masks[:, :, 4:6, 4:6] = 1
    out, out_masks = random_shifts(x, masks, 2, torch.Generator().manual_seed(0))
    offsets = set()
    for i in range(6):
        found = None
        for dy in range(-2, 3):
            for dx in range(-2, 3):
                expected = torch.full_like(x[i], float(x[i].min()))
                ys, xs = slice(max(dy, 0), 10 + min(dy, 0)), slice(max(dx, 0), 10 + min(dx, 0))
                ys_src, xs_src = slice(max(-dy, 0), 10 + min(-dy, 0)), slice(max(-dx, 0), 10 + min(-dx, 0))
                expected[:, ys, xs] = x[i][:, ys_src, xs_src]
                if torch.equal(out[i], expected):
                    found = (dy, dx)
        assert found is not None, i
        offsets.add(found)
        dy, dx = found
        assert torch.equal(torch.nonzero(out_masks[i, 0]), torch.nonzero(masks[i, 0]) + torch.tensor([dy, dx]))
    assert len(offsets) > 1  # every sample draws its own offset


def test_shifts_work_on_volumes_and_repeat_with_the_seed():
    x = torch.rand(3, 1, 6, 7, 8)
    masks = torch.zeros(3, 1, 6, 7, 8)
    a = random_shifts(x, masks, 1, torch.Generator().manual_seed(5))
    b = random_shifts(x, masks, 1, torch.Generator().manual_seed(5))
    assert a[0].shape == x.shape and torch.equal(a[0], b[0])
    assert not torch.equal(a[0], x)


def test_flips_along_the_last_axis_only_never_flip_rows():
    x = _ramp(32)
    out, _ = random_flips(x, torch.zeros(32, 1, 10, 10), torch.Generator().manual_seed(0), axes=(3,))
    flipped = [i for i in range(32) if not torch.equal(out[i], x[i])]
    assert 0 < len(flipped) < 32
    for i in flipped:
        assert torch.equal(out[i], x[i].flip(2))  # columns reversed (last axis of the sample)


def test_augment_batch_follows_the_config():
    x = _ramp(16)
    masks = torch.zeros(16, 1, 10, 10)
    config = FCDDConfig(augment_flips="last", augment_shift=0)
    out, _ = augment_batch(x, masks, torch.Generator().manual_seed(2), config)
    assert all(torch.equal(out[i], x[i]) or torch.equal(out[i], x[i].flip(2)) for i in range(16))
    shifted, _ = augment_batch(x, masks, torch.Generator().manual_seed(2), FCDDConfig(augment_shift=3))
    assert any(not any(torch.equal(shifted[i], x[i].flip(axes)) for axes in [(), (1,), (2,), (1, 2)])
               for i in range(16))


def test_fcdd_trains_against_gaussian_noise_with_the_reference_augmentation():
    rng = np.random.default_rng(0)
    normal = np.zeros((48, 1, 16, 16), np.float32)
    normal[:, :, 4:12, 4:12] = rng.uniform(0.6, 1.0, (48, 1, 1, 1))  # a bright square on black
    detector = FCDD(backbone="fcdd28", image_size=16, epochs=4, batch_size=16, device="cpu", optimizer="sgd",
                    lr=0.01, anomalies="noise", augment_flips="last", augment_shift=2, seed=0)
    detector.fit(normal, progress=False)
    assert detector.config_.anomalies == "noise"
    noise = np.clip(rng.normal(0, 0.25, (16, 1, 16, 16)), 0, 1).astype(np.float32)
    fresh = np.zeros((16, 1, 16, 16), np.float32)
    fresh[:, :, 4:12, 4:12] = 0.8
    assert float(detector.score(noise).min()) > float(detector.score(fresh).max())


def test_bad_augmentation_and_noise_options_name_the_field():
    with pytest.raises(ConfigError, match="augment_flips"):
        FCDD(augment_flips="vertical").get_config()
    with pytest.raises(ConfigError, match="augment_shift"):
        FCDD(augment_shift=-1).get_config()
    with pytest.raises(ConfigError, match="noise_std"):
        FCDD(anomalies="noise", noise_std=0).get_config()
