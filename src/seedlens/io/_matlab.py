"""MATLAB ``.mat`` v4/v5/v7 (scipy) and v7.3 (HDF5 via h5py) -> cube ``(bands, H, W)``.

The cube is the variable ``data`` (MATLAB ``H × W × bands``) or else the single largest 3D numeric array. Other
variables (ground-truth ``map``...) are not loaded; their names are listed in ``meta.extra["keys"]``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import scipy.io

from seedlens.errors import ReadError
from seedlens.io._guard import corrupt_on_error
from seedlens.io._layout import from_plain_array, native
from seedlens.types import ArrayMeta, Modality

_NUMERIC = {"double", "single", "logical", *(f"{s}int{b}" for s in ("", "u") for b in (8, 16, 32, 64))}
_WAVELENGTH_NAMES = ("wavelengths", "wavelength", "wl", "lambda", "wavelengths_nm")
_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


@dataclass(frozen=True)
class _Variable:
    name: str
    shape: tuple[int, ...]  # MATLAB order
    numeric: bool


def _listing(variables: list[_Variable]) -> str:
    return ", ".join(f"{v.name} {'×'.join(map(str, v.shape))}" for v in variables) or "none"


def _choose(variables: list[_Variable], path: Path) -> str:
    named = {v.name: v for v in variables}
    if "data" in named:
        if not named["data"].numeric:
            raise ReadError(path, "MAT variable 'data' is not a numeric array")
        return "data"
    cubes = [v for v in variables if v.numeric and len(v.shape) == 3]
    if not cubes:
        raise ReadError(path, f"no variable 'data' and no 3D numeric array to read; variables: {_listing(variables)}")
    largest = max(int(np.prod(v.shape)) for v in cubes)
    tied = [v for v in cubes if int(np.prod(v.shape)) == largest]
    if len(tied) > 1:
        raise ReadError(path, f"several 3D arrays are equally large ({_listing(tied)}); name the cube 'data'")
    return tied[0].name


def _wavelength_name(variables: list[_Variable]) -> str | None:
    for v in variables:
        if v.name.lower() in _WAVELENGTH_NAMES and v.numeric and int(np.prod(v.shape)) == max(v.shape, default=0):
            return v.name
    return None


def _arrange(array: np.ndarray, hint: Modality | None, path: Path) -> tuple[np.ndarray, Modality]:
    """MATLAB ``H × W [× bands|D [× C]]`` -> channel-first seedlens layout."""
    if array.ndim == 3:
        return from_plain_array(np.moveaxis(array, -1, 0), hint, path, default_3d=Modality.CUBE)
    if array.ndim == 4:
        return from_plain_array(array.transpose(3, 2, 0, 1), hint, path)
    return from_plain_array(array, hint, path)


def _read_v5(path: Path) -> tuple[list[_Variable], dict[str, np.ndarray], str, str | None]:
    variables = [_Variable(name, tuple(shape), kind in _NUMERIC) for name, shape, kind in scipy.io.whosmat(path)]
    key, wl = _choose(variables, path), _wavelength_name(variables)
    loaded = scipy.io.loadmat(path, variable_names=[n for n in (key, wl) if n], squeeze_me=False, mat_dtype=True)
    return variables, loaded, key, wl


def _read_v73(path: Path) -> tuple[list[_Variable], dict[str, np.ndarray], str, str | None]:
    with h5py.File(path, "r") as file:
        datasets = {name: item for name, item in file.items() if isinstance(item, h5py.Dataset) and name[0] != "#"}
        variables = []
        for name, item in datasets.items():
            kind = item.attrs.get("MATLAB_class", b"")
            kind = kind.decode() if isinstance(kind, bytes) else str(kind)
            numeric = kind in _NUMERIC and item.dtype.kind in "biuf" and "MATLAB_empty" not in item.attrs
            variables.append(_Variable(name, tuple(item.shape[::-1]), numeric))
        key, wl = _choose(variables, path), _wavelength_name(variables)
        loaded = {n: np.asarray(datasets[n][()]).T for n in (key, wl) if n}  # HDF5 holds MATLAB arrays transposed
    return variables, loaded, key, wl


def read(path: Path, hint: Modality | None) -> tuple[np.ndarray, ArrayMeta]:
    with path.open("rb") as stream:
        head = stream.read(520)
    version = "7.3" if _HDF5_SIGNATURE in (head[:8], head[512:520]) else "5"
    with corrupt_on_error(path, f"cannot read MAT v{version}"):
        variables, loaded, key, wl = (_read_v73 if version == "7.3" else _read_v5)(path)
    array, modality = _arrange(loaded[key], hint, path)
    array = native(array)
    wavelengths = None
    if wl is not None and modality is Modality.CUBE:
        wavelengths = [float(w) for w in np.ravel(loaded[wl])]
        if len(wavelengths) != array.shape[0]:
            raise ReadError(
                path, f"MAT variable {wl!r} holds {len(wavelengths)} wavelengths for a cube of shape {array.shape}"
            )
    extra = {"keys": [v.name for v in variables], "key": key, "mat_version": version}
    return array, ArrayMeta(modality=modality, wavelengths=wavelengths, source=path, extra=extra)
