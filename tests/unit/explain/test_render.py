"""Renderers write PNGs of the documented size, undistorted, and reject mismatched shapes."""

from __future__ import annotations

import gc
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from seedlens.errors import ConfigError, ShapeError
from seedlens.explain import cube_false_colour_png, overlay_png, render, volume_triplanar_png
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


def _full_range(array: np.ndarray, low_q: float = 1.0, high_q: float = 99.0) -> tuple[float, float] | None:
    """The display range computed over every voxel, as the renderer did before it subsampled."""
    values = np.asarray(array, dtype=np.float64)
    finite = values[np.isfinite(values)]
    low, high = np.percentile(finite, [low_q, high_q])
    if high <= low:
        low, high = finite.min(), finite.max()
    return None if high <= low else (float(low), float(high))


def _pixels(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image)


def _noisy_volume(n: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    volume = rng.standard_normal((1, n, n, n), dtype=np.float32) * 300
    volume[0, :2] = np.nan
    volume[0, 5, 5, 5] = np.inf
    heat = _blob((n, n, n), (n * 0.4, n * 0.5, n * 0.6), n / 10).astype(np.float32)
    heat[0, 0, 0] = np.nan
    return volume, heat


def test_mid_size_volume_gives_the_picture_of_every_voxel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    volume, heat = _noisy_volume(96)  # 96³ = 0.9 M voxels: no subsampling
    grey = volume[0]
    assert grey.size <= render.SAMPLE_VOXELS and render._subsample(grey) is grey
    assert render._display_range(grey) == _full_range(grey)
    mask = heat > 0.7
    drawn = volume_triplanar_png(volume, heat, tmp_path / "lean.png", mask=mask, spacing=(2, 1, 1), dpi=DPI)
    monkeypatch.setattr(render, "_display_range", _full_range)
    reference = volume_triplanar_png(
        volume.astype(np.float64), heat.astype(np.float64), tmp_path / "full.png", mask=mask, spacing=(2, 1, 1), dpi=DPI
    )
    np.testing.assert_array_equal(_pixels(drawn), _pixels(reference))


def test_large_volume_display_range_comes_from_a_bounded_subsample(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(render, "SAMPLE_VOXELS", 20_000)  # so that a 64³ volume counts as large
    volume, _ = _noisy_volume(64)
    sample = render._subsample(volume[0])
    assert sample.size <= 20_000 and np.shares_memory(sample, volume)  # a strided view, no copy
    assert sample.shape[0] > 10 and sample[-1].size > 0  # spread over the whole volume
    assert render._display_range(volume[0]) == render._display_range(volume[0])  # deterministic
    low, high = render._display_range(volume[0]) or (0.0, 0.0)
    full_low, full_high = _full_range(volume[0]) or (0.0, 0.0)
    assert low == pytest.approx(full_low, rel=0.05) and high == pytest.approx(full_high, rel=0.05)


def test_rendering_a_volume_allocates_less_than_one_float64_copy(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    volume = rng.standard_normal((1, 160, 160, 160), dtype=np.float32)  # 4 M voxels, 33 MB as float64
    heat = rng.random((160, 160, 160), dtype=np.float32)
    mask = heat > 0.999
    volume_triplanar_png(volume[:, :4, :4, :4], heat[:4, :4, :4], tmp_path / "warm.png", dpi=DPI)  # imports, caches
    gc.collect()
    tracemalloc.start()
    try:
        volume_triplanar_png(volume, heat, tmp_path / "big.png", mask=mask, spacing=(2, 1, 1), dpi=DPI)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < volume.size * 8  # converting volume or heatmap whole (as before) would need that much, each


def test_triplanar_axes_follow_the_voxel_spacing() -> None:
    shape, spacing = (12, 40, 48), (3.0, 0.5, 0.5)
    views = render._views(shape, spacing, (6, 20, 24))
    assert [v.pixel_aspect for v in views] == [1.0, 6.0, 6.0]  # a voxel is 3 mm tall and 0.5 mm wide in both
    fig = render._triplanar_figure(
        np.zeros((1, *shape)), np.zeros(shape), None, None, spacing, "jet", DPI, "anomaly"
    )
    fig.canvas.draw()
    width_px, height_px = fig.get_size_inches() * fig.dpi
    for ax, view in zip(fig.axes[:3], views, strict=True):
        assert ax.get_aspect() == view.pixel_aspect
        box = ax.get_position()
        assert box.width * width_px / (box.height * height_px) == pytest.approx(
            view.phys_width / view.phys_height, rel=0.03
        )


def test_triplanar_spacing_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="positive voxel sizes"):
        volume_triplanar_png(np.zeros((1, 4, 4, 4)), np.zeros((4, 4, 4)), tmp_path / "x.png", spacing=(0, 1, 1))
