"""The plan's automatic choices: patch size by physical extent, window size, pooling, voxel size."""

from __future__ import annotations

import numpy as np
import pytest

from seedlens.detectors._plan import PATCH_VOXELS, patch_size, window_size
from seedlens.detectors.config import DeepDetectorConfig
from seedlens.errors import ConfigError


def test_an_anisotropic_ct_gets_a_patch_about_as_deep_as_wide_in_millimetres():
    patch = patch_size(DeepDetectorConfig(), [(54, 176, 176)] * 3, 4, None, (3.27, 0.98, 0.98))
    assert np.prod(patch) <= PATCH_VOXELS[3] * 1.1 and all(p % 4 == 0 for p in patch)
    depth_mm, width_mm = patch[0] * 3.27, patch[2] * 0.98
    assert 0.7 < depth_mm / width_mm < 1.4, patch
    assert patch_size(DeepDetectorConfig(), [(54, 176, 176)], 4, None, None) != patch  # voxels alone: a cube


def test_small_scans_are_their_own_patch_and_given_or_whole_sample_sizes_win():
    assert patch_size(DeepDetectorConfig(), [(14, 18, 16), (18, 14, 16)], 4, None) == (16, 16, 16)
    assert patch_size(DeepDetectorConfig(patch_size=20), [(100, 100)], 8, None) == (24, 24)
    assert patch_size(DeepDetectorConfig(patch_size=(8, 30, 30)), [(50, 90, 90)], 4, None) == (8, 32, 32)
    assert patch_size(DeepDetectorConfig(), [(300, 300)], 4, 64) == (64, 64)
    with pytest.raises(ConfigError, match="patch_size must be 3 positive numbers"):
        patch_size(DeepDetectorConfig(patch_size=(8, 30)), [(50, 90, 90)], 4, None)


def test_windows_are_at_least_the_patch_and_what_the_receptive_field_needs():
    assert window_size(DeepDetectorConfig(), (32, 32, 32), 4, 40) == (96, 96, 96)
    assert window_size(DeepDetectorConfig(window_size=20), (16, 16), 4, 32) == (32, 32)
    assert window_size(DeepDetectorConfig(), (600, 600), 8, 16) == (600, 600)
