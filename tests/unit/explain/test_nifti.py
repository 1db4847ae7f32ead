from __future__ import annotations

import gc
import tracemalloc
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from seedlens.errors import ConfigError, ShapeError
from seedlens.explain import save_heatmap_nifti


@pytest.mark.parametrize("suffix", [".nii", ".nii.gz"])
def test_heatmap_round_trip_with_affine(tmp_path: Path, suffix: str) -> None:
    heat = np.random.default_rng(0).random((5, 6, 7)).astype(np.float32)  # (D, H, W)
    affine = np.array([[0.5, 0, 0, -10], [0, 0.7, 0, 20], [0, 0, 2.0, 5], [0, 0, 0, 1]])
    out = save_heatmap_nifti(heat, tmp_path / "maps" / f"heat{suffix}", affine=affine)
    loaded = nib.load(out)
    assert loaded.shape == (7, 6, 5)  # (i, j, k) = (W, H, D)
    np.testing.assert_allclose(loaded.affine, affine)
    np.testing.assert_allclose(np.asarray(loaded.get_fdata()).transpose(2, 1, 0), heat, rtol=1e-6)
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]


def test_identity_affine_and_channel_axis(tmp_path: Path) -> None:
    out = save_heatmap_nifti(np.zeros((1, 3, 4, 5)), tmp_path / "h.nii.gz")
    np.testing.assert_allclose(nib.load(out).affine, np.eye(4))


def test_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"\.nii"):
        save_heatmap_nifti(np.zeros((2, 2, 2)), tmp_path / "h.png")
    with pytest.raises(ShapeError, match=r"\(2, 2\)"):
        save_heatmap_nifti(np.zeros((2, 2)), tmp_path / "h.nii")
    with pytest.raises(ShapeError):
        save_heatmap_nifti(np.zeros((2, 2, 2)), tmp_path / "h.nii", affine=np.eye(3))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_writing_makes_at_most_one_float32_copy(tmp_path: Path, dtype: type) -> None:
    heat = np.random.default_rng(2).random((96, 96, 96)).astype(dtype)  # 3.5 MB as float32
    save_heatmap_nifti(heat[:2, :2, :2], tmp_path / "warm.nii.gz")  # imports
    gc.collect()
    tracemalloc.start()
    try:
        save_heatmap_nifti(heat, tmp_path / "heat.nii.gz")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    float32_copy = heat.size * 4
    assert peak < (0.25 if dtype == np.float32 else 1.25) * float32_copy  # float32: written from a view
    np.testing.assert_allclose(np.asarray(nib.load(tmp_path / "heat.nii.gz").dataobj).transpose(2, 1, 0), heat,
                               rtol=1e-6)
