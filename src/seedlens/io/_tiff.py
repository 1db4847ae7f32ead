"""TIFF through tifffile: a page -> image ``(C, H, W)``; a page stack -> volume ``(1, D, H, W)`` or cube."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tifffile

from seedlens.errors import ReadError
from seedlens.io._guard import corrupt_on_error
from seedlens.io._layout import from_plain_array, native, relabel
from seedlens.types import ArrayMeta, Modality

_CHANNEL_AXES = "SC"  # tifffile axis letters that mean colour samples or channels rather than pages


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
        array = series.asarray()
        axes = series.axes
        extra = {"axes": axes, "series": len(tif.series), "pages": len(tif.pages)}
    array, modality = _arrange(array, axes, hint, path)
    return native(array), ArrayMeta(modality=modality, source=path, extra=extra)
