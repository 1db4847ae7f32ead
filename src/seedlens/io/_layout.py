"""Channel-first layout rules shared by the readers (see ``seedlens.types`` for the layouts)."""

from __future__ import annotations

import mmap
from pathlib import Path

import numpy as np

from seedlens.errors import ReadError
from seedlens.types import Modality

_FLAT = (Modality.IMAGE, Modality.CUBE)  # both (C, H, W): the hint may relabel one as the other


def relabel(array: np.ndarray, natural: Modality, hint: Modality | None, path: Path) -> Modality:
    """Modality of an array whose layout the format fixes; ``hint`` may only swap image and cube."""
    if hint is None or hint is natural or (hint in _FLAT and natural in _FLAT):
        return hint or natural
    raise ReadError(
        path, f"holds {natural.value} data of shape {array.shape}; it cannot be read as modality {hint.value!r}"
    )


def from_plain_array(
    array: np.ndarray, hint: Modality | None, path: Path, *, default_3d: Modality | None = None
) -> tuple[np.ndarray, Modality]:
    """Arrange an array without axis labels, already channel-first, into a seedlens layout.

    ndim 1: table ``(F,)``. ndim 2: image ``(1, H, W)`` (a volume ``(1, 1, H, W)`` or cube ``(1, H, W)`` if hinted).
    ndim 3: ``hint``, else ``default_3d``, else image when the first axis is at most 4 long and volume otherwise;
    a volume gets the channel axis ``(1, D, H, W)``. ndim 4: volume ``(C, D, H, W)``.
    """
    shape = array.shape
    if array.ndim == 1 and hint in (None, Modality.TABLE):
        return array, Modality.TABLE
    if array.ndim == 2 and hint is not Modality.TABLE:
        kind_2d: Modality = hint or Modality.IMAGE
        return (array[None, None] if kind_2d is Modality.VOLUME else array[None]), kind_2d
    if array.ndim == 3 and hint is not Modality.TABLE:
        kind: Modality = hint or default_3d or (Modality.IMAGE if shape[0] <= 4 else Modality.VOLUME)
        return (array[None] if kind is Modality.VOLUME else array), kind
    if array.ndim == 4 and hint in (None, Modality.VOLUME):
        return array, Modality.VOLUME
    wanted = f" as modality {hint.value!r}" if hint else ""
    raise ReadError(
        path,
        f"cannot arrange an array of shape {shape}{wanted}; expected 2 dims (H, W), 3 dims (C|D|bands, H, W) "
        "or 4 dims (C, D, H, W)",
    )


def is_memory_mapped(array: np.ndarray) -> bool:
    """Whether ``array`` is a view of a memory-mapped file (its ``.base`` chain ends in an ``mmap``)."""
    base: object = array
    while isinstance(base, np.ndarray):
        base = base.base
    return isinstance(base, mmap.mmap)


def native(array: np.ndarray) -> np.ndarray:
    """Machine byte order (and bool as uint8), C-contiguous; a memory-mapped view needing neither is kept as it is.

    A file mapped in native byte order stays mapped (a plain ``ndarray`` view of the map, possibly not
    C-contiguous), so a large volume is paged in only where it is used; anything else is copied if needed.
    """
    if array.dtype == np.bool_:
        array = array.astype(np.uint8)
    if array.dtype.byteorder not in ("=", "|"):  # an explicit "<" on a little-endian machine is relabelled (a view)
        wanted = array.dtype.newbyteorder("=")
        array = array.view(wanted) if array.dtype.isnative else array.astype(wanted)
    if is_memory_mapped(array):
        return np.asarray(array)
    return np.ascontiguousarray(array)
