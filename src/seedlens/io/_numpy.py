"""NumPy ``.npy`` and ``.npz`` -> image ``(C, H, W)``, volume ``(C, D, H, W)`` or cube ``(bands, H, W)``.

An ``.npz`` holds the array under ``data``, ``arr_0`` or as its only array, with optional ``wavelengths``
(which make a 3D array a cube) and ``spacing`` (in array axis order).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from seedlens.errors import ReadError
from seedlens.io._guard import corrupt_on_error
from seedlens.io._layout import from_plain_array, native
from seedlens.types import ArrayMeta, Modality

_DATA_KEYS = ("data", "arr_0")
_SIDE_KEYS = ("wavelengths", "spacing")


def _numeric(array: np.ndarray, path: Path, what: str) -> np.ndarray:
    if array.dtype.kind not in "biufc":
        raise ReadError(path, f"{what} has dtype {array.dtype}; a numeric array is expected")
    return array


def _meta(
    array: np.ndarray, hint: Modality | None, path: Path, wavelengths: np.ndarray | None, spacing: np.ndarray | None
) -> tuple[np.ndarray, ArrayMeta]:
    if hint is None and wavelengths is not None and array.ndim == 3:
        hint = Modality.CUBE
    arranged, modality = from_plain_array(native(array), hint, path)
    bands = None
    if wavelengths is not None:
        bands = [float(w) for w in np.ravel(wavelengths)]
        if modality is not Modality.CUBE or len(bands) != arranged.shape[0]:
            raise ReadError(
                path,
                f"holds {len(bands)} wavelengths for a {modality.value} of shape {arranged.shape}; "
                "one wavelength per band of a (bands, H, W) cube expected",
            )
    steps = None
    if spacing is not None:
        steps = tuple(float(s) for s in np.ravel(spacing))
        if len(steps) != modality.spatial_dims:
            raise ReadError(
                path,
                f"spacing {steps} has {len(steps)} values; the {modality.value} has "
                f"{modality.spatial_dims} spatial axes",
            )
    return arranged, ArrayMeta(modality=modality, spacing=steps, wavelengths=bands, source=path)


def read_npy(path: Path, hint: Modality | None) -> tuple[np.ndarray, ArrayMeta]:
    with corrupt_on_error(path, "cannot read .npy"):
        array = np.load(path, allow_pickle=False)
    return _meta(_numeric(array, path, "the array"), hint, path, None, None)


def read_npz(path: Path, hint: Modality | None) -> tuple[np.ndarray, ArrayMeta]:
    with corrupt_on_error(path, "cannot read .npz"), np.load(path, allow_pickle=False) as archive:
        keys = list(archive.files)
        main = [k for k in _DATA_KEYS if k in keys] or [k for k in keys if k not in _SIDE_KEYS]
        if len(main) != 1 and not any(k in keys for k in _DATA_KEYS):
            raise ReadError(path, f"holds arrays {keys}; store the data under 'data' (or as the only array) to read it")
        key = main[0]
        array = _numeric(np.asarray(archive[key]), path, f"array {key!r}")
        wavelengths = archive["wavelengths"] if "wavelengths" in keys else None
        spacing = archive["spacing"] if "spacing" in keys else None
    array, meta = _meta(array, hint, path, wavelengths, spacing)
    meta.extra = {"keys": keys, "key": key}
    return array, meta
