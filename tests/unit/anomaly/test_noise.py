"""Gaussian-noise images (the FCDD reference's "noise" supervision)."""

from __future__ import annotations

import pytest
import torch

from seedlens.anomaly import GaussianNoiseImages, OnlineReplacement
from seedlens.anomaly.noise import REFERENCE_STD, contrast_rule
from seedlens.data.transforms.functional import contrast_normalize
from seedlens.errors import ConfigError, ShapeError


def test_noise_images_are_clamped_half_normal_values_with_full_masks():
    x = torch.rand(64, 1, 28, 28)
    noise, masks = GaussianNoiseImages().batch(x, torch.Generator().manual_seed(0))
    assert noise.shape == x.shape and masks.shape == (64, 1, 28, 28) and bool((masks == 1).all())
    assert float(noise.min()) == 0.0 and float(noise.max()) <= 1.0
    assert 0.45 < float((noise == 0).float().mean()) < 0.55  # negative draws clamp to 0, as the reference's byte cast
    positive = noise[noise > 0]
    assert abs(float(positive.mean()) - REFERENCE_STD * (2 / torch.pi) ** 0.5) < 0.01  # half-normal mean σ√(2/π)


def test_noise_is_reproducible_and_does_not_depend_on_the_input():
    x = torch.rand(4, 3, 16, 16)
    a, _ = GaussianNoiseImages().batch(x, torch.Generator().manual_seed(3))
    b, _ = GaussianNoiseImages().batch(x * 0, torch.Generator().manual_seed(3))
    c, _ = GaussianNoiseImages().batch(x, torch.Generator().manual_seed(4))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_contrast_rule_matches_the_preprocessors_per_sample_normalisation():
    x = torch.rand(5, 1, 12, 12)
    rule = contrast_rule(-2.0, 10.0)
    got = rule(x)
    for i in range(5):
        expected = (contrast_normalize(x[i]) + 2.0) / 12.0
        assert torch.allclose(got[i], expected, atol=1e-5)
    assert torch.equal(rule(torch.ones(1, 1, 4, 4)), torch.full((1, 1, 4, 4), 2.0 / 12.0))  # constant: all zeros


def test_noise_replaces_chosen_samples_whole_in_online_supervision():
    x = torch.full((32, 1, 8, 8), 0.5)
    out, labels, masks = OnlineReplacement(GaussianNoiseImages(), p=0.5)(x, torch.Generator().manual_seed(1))
    replaced = labels.bool()
    assert 0 < int(replaced.sum()) < 32
    assert bool((masks[replaced] == 1).all()) and bool((masks[~replaced] == 0).all())
    assert torch.equal(out[~replaced], x[~replaced]) and not bool((out[replaced] == 0.5).all())


def test_bad_noise_settings_and_shapes_are_refused():
    with pytest.raises(ConfigError, match="std must be > 0"):
        GaussianNoiseImages(std=0)
    with pytest.raises(ShapeError, match=r"\(N, C, \*spatial\)"):
        GaussianNoiseImages().batch(torch.rand(8, 8))
    with pytest.raises(ConfigError, match="high > low"):
        contrast_rule(1.0, 1.0)
