"""Zarr stores through zarr-python 2 or 3: one array, a group of one array, or an OME-Zarr image (its level 0).

Reading copies the stored array chunk by chunk into one preallocated array in the seedlens layout, so it never
holds more than the result and one decoded chunk. Stores are written in Zarr format 2 (read by zarr-python 2 and 3
and by OME viewers): an OME-NGFF 0.4 image, or a plain array whose ``attrs["seedlens"]`` keep spacing and affine.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from seedlens.errors import CorruptFileError, ReadError
from seedlens.io import _ome
from seedlens.io._guard import corrupt_on_error
from seedlens.io._layout import from_plain_array, native, relabel
from seedlens.types import ArrayMeta, Modality

MARKERS = (".zarray", ".zgroup", ".zattrs", "zarr.json")
ATTRS_KEY = "seedlens"  # a plain array's {"spacing": [...], "affine": [[...]]}
_INSTALL = "pip install 'seedlens[zarr]'"
_SPACE = "zyx"


def is_store(folder: Path) -> bool:
    """Whether ``folder`` holds Zarr metadata of format 2 or 3 (an array or a group)."""
    return any((folder / marker).is_file() for marker in MARKERS)


def _module(path: Path | None) -> ModuleType:
    """``zarr``, imported on first use; reading names the store in a ReadError, writing raises ImportError."""
    try:
        import zarr
    except ImportError as exc:
        if path is None:
            raise ImportError(f"writing Zarr needs the optional package 'zarr'; install it with: {_INSTALL}") from exc
        raise ReadError(path, f"reading Zarr needs the optional package 'zarr'; install it with: {_INSTALL}") from exc
    return zarr


def _major(zarr: ModuleType) -> int:
    return int(str(zarr.__version__).split(".")[0])


def _dtype(stored: Any, path: Path) -> np.dtype:
    dtype = np.dtype(stored)
    if dtype.kind not in "biufc":
        raise ReadError(path, f"holds an array of dtype {dtype}; a numeric array is expected")
    return np.dtype(np.uint8) if dtype.kind == "b" else dtype.newbyteorder("=")


def _copy(array: Any, order: Sequence[int], path: Path) -> np.ndarray:
    """The stored array with its axes in ``order`` (every other axis has length 1), copied one chunk at a time."""
    shape, chunks = tuple(int(n) for n in array.shape), tuple(int(c) for c in array.chunks)
    out = np.empty([shape[a] for a in order], _dtype(array.dtype, path))
    kept = sorted(order)
    view = out.transpose([list(order).index(a) for a in kept])  # ``out`` seen in the stored axis order
    for corner in itertools.product(*(range(0, n, c) for n, c in zip(shape, chunks, strict=True))):
        region = tuple(slice(i, min(i + c, n)) for i, c, n in zip(corner, chunks, shape, strict=True))
        block = np.asarray(array[region])
        view[tuple(region[a] for a in kept)] = block.reshape([block.shape[a] for a in kept])
    return out


def _read_plain(array: Any, hint: Modality | None, path: Path) -> tuple[np.ndarray, ArrayMeta]:
    data, modality = from_plain_array(
        native(_copy(array, range(array.ndim), path)), hint, path, default_3d=Modality.VOLUME
    )
    stored = dict(array.attrs).get(ATTRS_KEY) or {}
    spacing = tuple(float(s) for s in stored["spacing"]) if stored.get("spacing") is not None else None
    if spacing is not None and len(spacing) != modality.spatial_dims:
        raise ReadError(
            path, f"spacing {spacing} has {len(spacing)} values; the {modality.value} has {modality.spatial_dims} axes"
        )
    affine = None
    if stored.get("affine") is not None and modality is Modality.VOLUME:
        affine = np.array(stored["affine"], dtype=np.float64)
        if affine.shape != (4, 4):
            raise CorruptFileError(path, f"attrs[{ATTRS_KEY!r}]['affine'] must be 4×4; got shape {affine.shape}")
    return data, ArrayMeta(modality=modality, spacing=spacing, affine=affine, source=path)


def _space_order(level: _ome.Level, space: list[int]) -> list[int]:
    """Space axes as z, y, x when they are named so (the OME order), else as stored."""
    names = [level.axes[i].lower() for i in space]
    if len(set(names)) == len(names) and set(names) <= set(_SPACE):
        return sorted(space, key=lambda i: _SPACE.index(level.axes[i].lower()))
    return space


def _ome_layout(level: _ome.Level, shape: tuple[int, ...], hint: Modality | None, path: Path) -> tuple[list[int], str]:
    """Which stored axes become the seedlens axes, in order, and their letters (``czyx``, ``zyx``, ``cyx``, ``yx``)."""
    for i, kind in enumerate(level.kinds):
        if kind not in ("channel", "space") and shape[i] != 1:
            what = f"{kind} axis" if kind else "axis of unknown type"
            raise ReadError(path, f"{what} {level.axes[i]!r} has length {shape[i]}; seedlens reads channel and "
                                  "space axes only (one time point)")
    channels = [i for i, kind in enumerate(level.kinds) if kind == "channel"]
    space = _space_order(level, [i for i, kind in enumerate(level.kinds) if kind == "space"])
    if len(channels) > 1 or len(space) not in (2, 3):
        raise ReadError(path, f"has axes {level.axes} of kinds {level.kinds}; expected at most one channel axis and "
                              "2 (y, x) or 3 (z, y, x) space axes")
    if len(space) == 3 and shape[space[0]] == 1 and hint in (Modality.IMAGE, Modality.CUBE):
        space = space[1:]  # a single plane read as an image or cube
    return channels + space, "c" * len(channels) + _SPACE[-len(space) :]


def _read_ome(
    group: Any, attrs: dict[str, Any], hint: Modality | None, path: Path
) -> tuple[Any, np.ndarray, ArrayMeta]:
    """The stored level-0 array, and it read in the seedlens layout with its geometry."""
    level = _ome.level0(attrs, lambda name: len(group[name].shape), path)
    array = group[level.path]
    shape = tuple(int(n) for n in array.shape)
    order, letters = _ome_layout(level, shape, hint, path)
    data = native(_copy(array, order, path))
    volume = "z" in letters
    arranged = data if "c" in letters else data[None]
    modality = relabel(arranged, Modality.VOLUME if volume else Modality.IMAGE, hint, path)
    scale = dict(zip(letters, (level.scale[i] for i in order), strict=True))
    shift = dict(zip(letters, (level.translation[i] for i in order), strict=True))
    spacing = tuple(scale[a] for a in letters if a in _SPACE)
    affine = None
    if volume:
        affine = np.diag([scale["x"], scale["y"], scale["z"], 1.0])
        affine[:3, 3] = [shift["x"], shift["y"], shift["z"]]
    extra = {"array": level.path, "axes": "".join(level.axes), "ome_version": level.version, "units": level.units}
    return array, arranged, ArrayMeta(modality=modality, spacing=spacing, affine=affine, source=path, extra=extra)


def _only_array(group: Any, path: Path) -> tuple[str, Any]:
    names = sorted(group.array_keys())
    if len(names) != 1:
        raise ReadError(path, f"is a Zarr group of {len(names)} arrays {names} without OME-Zarr multiscales metadata; "
                              "expected one array or an OME-Zarr image")
    return names[0], group[names[0]]


def read(path: Path, hint: Modality | None) -> tuple[np.ndarray, ArrayMeta]:
    if not path.is_dir():
        raise ReadError(path, "is not a folder; a Zarr store is read from its folder (zip stores are not supported)")
    if not is_store(path):
        raise CorruptFileError(path, f"holds no Zarr metadata ({', '.join(MARKERS)}); expected a Zarr array or group")
    zarr = _module(path)
    if (path / "zarr.json").is_file() and _major(zarr) < 3:
        raise ReadError(path, f"is a Zarr format 3 store; zarr {zarr.__version__} reads format 2 only: "
                              "pip install 'zarr>=3'")
    with corrupt_on_error(path, "cannot read Zarr"):
        node = zarr.open(store=str(path), mode="r")
        attrs = dict(node.attrs)
        if isinstance(node, zarr.Array):
            array = node
            data, meta = _read_plain(array, hint, path)
        elif _ome.multiscales(attrs):
            array, data, meta = _read_ome(node, attrs, hint, path)
        else:
            name, array = _only_array(node, path)
            data, meta = _read_plain(array, hint, path)
            meta.extra["array"] = name
        meta.extra.update(
            zarr_format=int(getattr(getattr(array, "metadata", None), "zarr_format", 2)),
            shape=[int(n) for n in array.shape],
            chunks=[int(c) for c in array.chunks],
        )
    return data, meta


def _create(group: Any, name: str, shape: tuple[int, ...], dtype: np.dtype, chunks: tuple[int, ...]) -> Any:
    if hasattr(group, "create_array"):  # zarr-python 3
        return group.create_array(name=name, shape=shape, dtype=dtype, chunks=chunks)
    return group.create_dataset(name, shape=shape, dtype=dtype, chunks=chunks)


def save(
    folder: Path,
    volume: np.ndarray,
    matrix: np.ndarray,
    chunks: tuple[int, int, int],
    *,
    ome: bool,
    name: str,
) -> None:
    """Write a validated ``(C, D, H, W)`` volume into the empty ``folder`` (C = 1 is stored as ``(D, H, W)``).

    ``matrix`` is the 4×4 affine; for OME it must be diagonal plus a translation (checked by the caller).
    """
    zarr = _module(None)
    kwargs: dict[str, Any] = {"zarr_format": 2} if _major(zarr) >= 3 else {}
    data = volume[0] if volume.shape[0] == 1 else volume
    chunk_shape = tuple(min(c, n) for c, n in zip(chunks, data.shape[-3:], strict=True))
    if data.ndim == 4:
        chunk_shape = (1, *chunk_shape)
    spacing = [float(s) for s in np.linalg.norm(matrix[:3, :3], axis=0)[::-1]]  # (D, H, W)
    if ome:
        group = zarr.open_group(str(folder), mode="w", **kwargs)
        axes = ("c" if data.ndim == 4 else "") + _SPACE
        scale = ([1.0] if data.ndim == 4 else []) + spacing
        translation = ([0.0] if data.ndim == 4 else []) + [float(t) for t in matrix[2::-1, 3]]
        group.attrs.update(_ome.image_metadata(axes, scale, translation, name))
        target = _create(group, "0", data.shape, data.dtype, chunk_shape)
    else:
        target = zarr.open_array(
            str(folder), mode="w", shape=data.shape, dtype=data.dtype, chunks=chunk_shape, **kwargs
        )
        target.attrs.update({ATTRS_KEY: {"spacing": spacing, "affine": matrix.tolist()}})
    target[...] = data  # zarr encodes it chunk by chunk
