"""render_heatmap draws each modality's pictures; volumes at their voxel spacing."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
from PIL import Image

from seedlens.explain._figure import FIG_HEIGHT, figure_width
from seedlens.io import read, write_nifti
from seedlens.types import ArrayMeta, Modality
from seedlens.workflows.rendering import render_heatmap

SPACING = (3.0, 0.5, 0.5)  # thick slices: (D, H, W) mm


def _anisotropic_scan(tmp_path: Path) -> tuple[np.ndarray, ArrayMeta]:
    grid = np.meshgrid(*(np.linspace(-1, 1, n) for n in (12, 40, 48)), indexing="ij")
    ball = (sum(g**2 for g in grid) < 0.5).astype(np.float32) * 1000
    return read(write_nifti(tmp_path / "ct.nii", ball, spacing=SPACING))


def _panel_aspects(depth: int, height: int, width: int, spacing: tuple[float, float, float]) -> list[float]:
    """Width / height of the axial, coronal and sagittal panels in mm."""
    sd, sh, sw = spacing
    return [width * sw / (height * sh), width * sw / (depth * sd), height * sh / (depth * sd)]


def test_volume_panels_follow_the_voxel_spacing(tmp_path: Path) -> None:
    volume, meta = _anisotropic_scan(tmp_path)
    assert meta.spacing == SPACING
    heat = np.zeros((1, 12, 40, 48), np.float32)
    heat[0, 6, 20, 30] = 1.0
    png, nifti = render_heatmap(volume, heat, meta, tmp_path / "out" / "ct", title="ct")
    with Image.open(png) as image:
        width, height = image.size
    # 12 slices of 3 mm are 36 mm tall, 48 columns of 0.5 mm 24 mm wide: the coronal panel is taller than wide;
    # drawn isotropic (12 rows, 48 columns) it would be 4 times wider than tall
    assert height == int(FIG_HEIGHT * 100)
    assert width == int(figure_width(_panel_aspects(12, 40, 48, SPACING)) * 100)
    assert width != int(figure_width(_panel_aspects(12, 40, 48, (1.0, 1.0, 1.0))) * 100)
    np.testing.assert_allclose(nib.load(nifti).affine, meta.affine)


def test_unusable_spacing_is_drawn_isotropic(tmp_path: Path) -> None:
    volume = np.zeros((1, 12, 40, 48), np.float32)
    meta = ArrayMeta(modality=Modality.VOLUME, spacing=(0.0, 0.5, 0.5))  # a zero pixdim in a sloppy header
    png, _ = render_heatmap(volume, np.zeros_like(volume), meta, tmp_path / "flat")
    with Image.open(png) as image:
        assert image.size[0] == int(figure_width(_panel_aspects(12, 40, 48, (1.0, 1.0, 1.0))) * 100)
