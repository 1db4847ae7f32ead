from __future__ import annotations

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
