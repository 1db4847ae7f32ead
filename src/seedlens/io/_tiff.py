"""TIFF through tifffile: a page -> image ``(C, H, W)``; a page stack -> volume ``(1, D, H, W)`` or cube.

A stack whose pages are stored uncompressed, contiguously and in native byte order is memory-mapped
(``tifffile.memmap``, copy-on-write); compressed, tiled or byte-swapped stacks and single pages are read whole.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import tifffile

from seedlens.errors import ReadError
from seedlens.io._guard import corrupt_on_error
from seedlens.io._layout import from_plain_array, native, relabel
from seedlens.types import ArrayMeta, Modality

_CHANNEL_AXES = "SC"  # tifffile axis letters that mean colour samples or channels rather than pages
_NATIVE_ORDER = "<" if sys.byteorder == "little" else ">"


def _is_stack(shape: tuple[int, ...], axes: str) -> bool:
    """More than one page: an axis of length > 1 that is neither a plane axis (Y, X) nor a channel axis."""
    return any(n > 1 and axis not in "YX" + _CHANNEL_AXES for n, axis in zip(shape, axes, strict=True))


def _mapped_stack(path: Path, tif: tifffile.TiffFile) -> np.ndarray | None:
    """Series 0 as a copy-on-write memory map when it is a stack tifffile can map, else None."""
    series = tif.series[0]
    if not _is_stack(series.shape, series.axes) or tif.byteorder != _NATIVE_ORDER:
        return None
    if series.levels[0].dataoffset is None:  # compressed, tiled, predictor, or pages not contiguous
        return None
    return tifffile.memmap(path, series=0, mode="c")


def _arrange(array: np.ndarray, axes: str, hint: Modality | None, path: Path) -> tuple[np.ndarray, Modality]:
    keep = [i for i, axis in enumerate(axes) if array.shape[i] > 1 or axis in "YX"]
    array = array.reshape([array.shape[i] for i in keep])
    axes = "".join(axes[i] for i in keep)
    channel = next((axes.index(a) for a in _CHANNEL_AXES if a in axes), 0)
    if channel:  # samples (RGB...) or channels become the leading axis
        array, axes = np.moveaxis(array, channel, 0), axes[channel] + axes[:channel] + axes[channel + 1 :]
    if not axes.endswith("YX") or len(axes) > 4:
        raise ReadError(path, f"TIFF layout {axes!r} of shape {array.shape} is not an image, a stack or a cube")
    if len(axes) == 4:  # samples x pages x Y x X
        if axes[0] not in _CHANNEL_AXES or hint not in (None, Modality.VOLUME):
            raise ReadError(path, f"TIFF layout {axes!r} of shape {array.shape} can only be read as a volume")
        return array, Modality.VOLUME
    if len(axes) == 3 and axes[0] in _CHANNEL_AXES:
        return array, relabel(array, Modality.IMAGE, hint, path)
    return from_plain_array(array, hint, path, default_3d=Modality.VOLUME)


def read(path: Path, hint: Modality | None) -> tuple[np.ndarray, ArrayMeta]:
    with corrupt_on_error(path, "cannot read TIFF"), tifffile.TiffFile(path) as tif:
        series = tif.series[0]
        mapped = _mapped_stack(path, tif)
        array = series.asarray() if mapped is None else mapped
        axes = series.axes
        extra = {"axes": axes, "series": len(tif.series), "pages": len(tif.pages)}
    array, modality = _arrange(array, axes, hint, path)
    return native(array), ArrayMeta(modality=modality, source=path, extra=extra)
