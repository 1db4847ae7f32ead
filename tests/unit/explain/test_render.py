"""Renderers write PNGs of the documented size, undistorted, and reject mismatched shapes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from seedlens.errors import ShapeError
from seedlens.explain import cube_false_colour_png, overlay_png, volume_triplanar_png
from seedlens.explain._figure import FIG_HEIGHT, figure_width

DPI = 50  # small PNGs keep the tests fast


def _blob(shape: tuple[int, ...], centre: tuple[float, ...], width: float) -> np.ndarray:
    grids = np.meshgrid(*[np.arange(s) for s in shape], indexing="ij")
    return np.exp(-sum((g - c) ** 2 for g, c in zip(grids, centre, strict=True)) / (2 * width**2))


def _png_size(path: Path) -> tuple[int, int]:
    assert path.is_file() and path.stat().st_size > 1000
    with Image.open(path) as image:
        assert image.format == "PNG"
        return image.size  # (width, height)


@pytest.mark.parametrize("channels", [1, 3, 5])
def test_overlay_png(tmp_path: Path, channels: int) -> None:
    image = np.random.default_rng(0).random((channels, 40, 80))
    heat = _blob((40, 80), (20, 60), 5)
    out = overlay_png(image, heat, tmp_path / "sub" / "overlay.png", title="a title", dpi=DPI)
    width, height = _png_size(out)
    assert height == int(FIG_HEIGHT * DPI)
    assert width == int(figure_width([2.0, 2.0]) * DPI)
    assert not list(out.parent.glob(".*.tmp"))  # atomic write left no temporary file


def test_overlay_png_aspect_follows_the_image(tmp_path: Path) -> None:
    tall = overlay_png(np.zeros((1, 80, 40)), np.zeros((80, 40)), tmp_path / "tall.png", dpi=DPI)
    wide = overlay_png(np.zeros((1, 40, 80)), np.zeros((40, 80)), tmp_path / "wide.png", dpi=DPI)
    assert _png_size(tall)[0] < _png_size(wide)[0]


def test_overlay_shape_mismatch(tmp_path: Path) -> None:
    with pytest.raises(ShapeError, match=r"\(40, 80\)"):
        overlay_png(np.zeros((1, 40, 80)), np.zeros((40, 40)), tmp_path / "x.png")
    with pytest.raises(ShapeError, match="C, H, W"):
        overlay_png(np.zeros((40, 80)), np.zeros((40, 80)), tmp_path / "x.png")


def test_volume_triplanar_png(tmp_path: Path) -> None:
    volume = _blob((20, 32, 24), (10, 16, 12), 8)[None] * 1000 - 500
    heat = _blob((20, 32, 24), (12, 10, 15), 3)
    mask = heat > 0.5
    out = volume_triplanar_png(volume, heat, tmp_path / "vol.png", mask=mask, title="CT", spacing=(2, 1, 1), dpi=DPI)
    width, height = _png_size(out)
    # axial 24 wide / 32 tall; coronal 24 / (20*2); sagittal 32 / (20*2)
    assert (width, height) == (int(figure_width([24 / 32, 24 / 40, 32 / 40]) * DPI), int(FIG_HEIGHT * DPI))


def test_volume_triplanar_flat_heatmap_and_bad_mask(tmp_path: Path) -> None:
    volume = np.zeros((1, 8, 8, 8))
    volume_triplanar_png(volume, np.zeros((8, 8, 8)), tmp_path / "flat.png", dpi=DPI)
    with pytest.raises(ShapeError):
        volume_triplanar_png(volume, np.zeros((8, 8, 8)), tmp_path / "bad.png", mask=np.zeros((8, 8)))


@pytest.mark.parametrize("with_wavelengths", [True, False])
def test_cube_false_colour_png(tmp_path: Path, with_wavelengths: bool) -> None:
    bands = 30
    wavelengths = list(np.linspace(400, 1000, bands)) if with_wavelengths else None
    cube = np.random.default_rng(1).random((bands, 24, 36))
    heat = _blob((24, 36), (12, 20), 4)
    out = cube_false_colour_png(cube, heat, tmp_path / "cube.png", wavelengths=wavelengths, title="cube", dpi=DPI)
    assert _png_size(out) == (int(figure_width([1.5, 1.5], plots=1) * DPI), int(FIG_HEIGHT * DPI))


def test_cube_wavelength_count_must_match(tmp_path: Path) -> None:
    with pytest.raises(ShapeError, match="one value per band"):
        cube_false_colour_png(np.zeros((5, 4, 4)), np.zeros((4, 4)), tmp_path / "c.png", wavelengths=[500.0] * 4)
