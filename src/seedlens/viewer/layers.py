"""One plane of a sample as the pictures a viewer page stacks: the scan, the heatmap over it, the ground truth.

A page composites three PNG layers per plane on a canvas: the scan in grey (or RGB, or a cube's false colour), the
heatmap in colour (the page sets its opacity) and the ground-truth contour on a transparent background. Each layer
is cut from the array on request, one plane at a time, so a 512³ volume never travels to the browser whole.

Arrays are ``(C, H, W)`` images and cubes or ``(C, D, H, W)`` volumes, as ``seedlens.io.read`` returns them;
heatmaps and masks are ``(1, *spatial)`` on the same grid.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from functools import cache
from typing import Any

import numpy as np

from seedlens.errors import ConfigError, ShapeError
from seedlens.explain.render import _display_range, _scaled

#: The heatmap colour map (the one the static renderers use).
CMAP = "jet"
#: Opacity of the ground-truth contour and its colour.
CONTOUR_RGBA = (255, 255, 255, 255)


def plane_count(shape: Sequence[int], axis: int | None) -> int:
    """How many planes a sample of ``shape`` ``(C, *spatial)`` has along ``axis`` (1 for a 2D sample)."""
    spatial = tuple(shape[1:])
    if len(spatial) == 2:
        return 1
    if axis is None or not 0 <= axis < len(spatial):
        raise ConfigError(f"axis must be 0, 1 or 2 for a volume of shape {tuple(shape)}; got {axis}")
    return int(spatial[axis])


def plane(array: Any, axis: int | None, index: int) -> np.ndarray:
    """Plane ``index`` along spatial ``axis`` of ``array`` ``(C, *spatial)`` as ``(C, h, w)`` (2D: the sample).

    Only that plane is read, so a memory-mapped volume stays on disk.

    Raises:
        ConfigError: ``axis`` or ``index`` outside the sample, naming the valid range.
    """
    shape = tuple(np.shape(array))
    count = plane_count(shape, axis)
    if not 0 <= index < count:
        raise ConfigError(f"plane index must be in [0, {count - 1}] along axis {axis} of shape {shape}; got {index}")
    if len(shape) == 3:
        return np.asarray(array)
    assert axis is not None
    return np.asarray(np.take(array, index, axis=axis + 1))


def display_limits(array: Any) -> list[tuple[float, float] | None]:
    """Per-channel display window (1st and 99th percentile of a subsample) of ``array`` ``(C, *spatial)``."""
    return [_display_range(np.asarray(array[c])) for c in range(np.shape(array)[0])]


def scan_png(values: np.ndarray, limits: Sequence[tuple[float, float] | None], band: int | None = None,
             false_colour: Sequence[int] | None = None) -> bytes:
    """The scan layer of one plane ``(C, h, w)``: grey, RGB (3 channels), one band, or three bands as colour.

    Args:
        values: The plane, ``(C, h, w)``.
        limits: Per-channel display windows from :func:`display_limits`.
        band: Show only this channel in grey (a cube's band slider).
        false_colour: Three channel indices shown as R, G, B (a cube's false colour).

    Raises:
        ConfigError: ``band`` is not a channel of the plane.
    """
    channels = values.shape[0]
    if band is not None:
        if not 0 <= band < channels:
            raise ConfigError(f"band must be in [0, {channels - 1}]; got {band}")
        return _png(_scaled(values[band], limits[band]))
    if false_colour is not None:
        return _png(np.stack([_scaled(values[c], limits[c]) for c in false_colour], axis=-1))
    if channels == 3:
        return _png(np.stack([_scaled(values[c], limits[c]) for c in range(3)], axis=-1))
    if channels == 1:
        return _png(_scaled(values[0], limits[0]))
    mean_limits = _mean_limits(limits)
    return _png(_scaled(values.mean(axis=0), mean_limits))


def quantize(unit: Any) -> np.ndarray:
    """Values in [0, 1] (NaN as 0) as the 256 levels a heatmap layer shows, ``uint8`` of the same shape."""
    return np.round(np.clip(np.nan_to_num(np.asarray(unit, dtype=np.float32)), 0.0, 1.0) * 255).astype(np.uint8)


def heat_png(levels: np.ndarray) -> bytes:
    """The heatmap layer of one plane: :func:`quantize` levels ``(h, w)`` through :data:`CMAP`, opaque (RGB)."""
    if levels.ndim != 2 or levels.dtype != np.uint8:
        raise ShapeError(f"a heatmap plane must be (h, w) uint8 levels; got {levels.dtype} of shape {levels.shape}")
    return _png_uint8(_lut()[levels])


def contour_png(mask: np.ndarray) -> bytes:
    """The ground-truth layer of one plane: the boundary pixels of ``mask`` ``(h, w)``, transparent elsewhere."""
    from scipy import ndimage

    inside = np.asarray(mask) > 0
    edge = inside & ~ndimage.binary_erosion(inside, border_value=0)
    rgba = np.zeros((*inside.shape, 4), np.uint8)
    rgba[edge] = CONTOUR_RGBA
    return _png_uint8(rgba)


def colour_bar_png(width: int = 256, height: int = 12) -> bytes:
    """The colour bar of :data:`CMAP`, low values on the left."""
    row = _lut()[np.linspace(0, 255, width).round().astype(np.uint8)]
    return _png_uint8(np.repeat(row[None], height, axis=0))


def spectrum(array: Any, y: int, x: int) -> list[float]:
    """The values of pixel ``(y, x)`` of a cube ``(bands, H, W)`` over its bands.

    Raises:
        ConfigError: the pixel lies outside the cube, naming its size.
    """
    _, height, width = np.shape(array)
    if not (0 <= y < height and 0 <= x < width):
        raise ConfigError(f"pixel (y={y}, x={x}) is outside the {height} × {width} cube")
    return [float(v) for v in np.asarray(array[:, y, x], dtype=np.float64)]


def _mean_limits(limits: Sequence[tuple[float, float] | None]) -> tuple[float, float] | None:
    known = [limit for limit in limits if limit is not None]
    if not known:
        return None
    return float(np.mean([low for low, _ in known])), float(np.mean([high for _, high in known]))


@cache
def _lut() -> np.ndarray:
    import matplotlib as mpl

    return (mpl.colormaps[CMAP](np.linspace(0.0, 1.0, 256))[:, :3] * 255).round().astype(np.uint8)


def _png(unit: np.ndarray) -> bytes:
    """Values in [0, 1] ``(h, w)`` or ``(h, w, 3)`` as an 8-bit PNG."""
    return _png_uint8(np.round(unit * 255).astype(np.uint8))


def _png_uint8(pixels: np.ndarray) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(pixels)).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()
