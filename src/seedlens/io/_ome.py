"""OME-Zarr (OME-NGFF 0.1-0.5) ``multiscales`` metadata: level 0's path, axes and voxel geometry; and writing it.

Versions 0.1/0.2 have no ``axes`` (always ``tczyx``), 0.3 names them as strings, 0.4/0.5 as objects with a type
and unit; 0.5 keeps everything under ``attrs["ome"]``. A level's ``coordinateTransformations`` (a scale, then
an optional translation) are applied first, then those of the whole multiscale image.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seedlens.errors import CorruptFileError, ReadError

WRITTEN_VERSION = "0.4"  # the version most viewers read; stored in Zarr format 2
_DEFAULT_AXES = "tczyx"
_KINDS = {"t": "time", "c": "channel", "x": "space", "y": "space", "z": "space"}
_SI_PREFIXES = {
    "yocto": 1e-24, "zepto": 1e-21, "atto": 1e-18, "femto": 1e-15, "pico": 1e-12, "nano": 1e-9, "micro": 1e-6,
    "milli": 1e-3, "centi": 1e-2, "deci": 1e-1, "": 1.0, "hecto": 1e2, "kilo": 1e3, "mega": 1e6, "giga": 1e9,
    "tera": 1e12, "peta": 1e15, "exa": 1e18, "zetta": 1e21, "yotta": 1e24,
}  # fmt: skip
MM_PER_UNIT = {
    **{f"{prefix}meter": 1e3 * factor for prefix, factor in _SI_PREFIXES.items()},
    "angstrom": 1e-7, "inch": 25.4, "foot": 304.8, "yard": 914.4, "mile": 1609344.0,
}  # fmt: skip


@dataclass(frozen=True)
class Level:
    """Level 0 of a multiscale image: where its array is and how its indices map to the world.

    Attributes:
        path: The array's path inside the group (e.g. ``"0"``).
        axes: One name per array axis, as stored (e.g. ``("c", "z", "y", "x")``).
        kinds: ``"time"``, ``"channel"``, ``"space"`` or ``""`` (unknown) per axis.
        scale: Size of one step along each axis; space axes in mm where their unit is a known length.
        translation: World position of index 0 along each axis, in the same units as ``scale``.
        units: The unit stored for each axis that has one.
        version: The OME-NGFF version written in the metadata (``"0.4"``...), or ``""``.
    """

    path: str
    axes: tuple[str, ...]
    kinds: tuple[str, ...]
    scale: tuple[float, ...]
    translation: tuple[float, ...]
    units: dict[str, str]
    version: str


def multiscales(attrs: Mapping[str, Any]) -> list[Any] | None:
    """The ``multiscales`` list of a group's attributes (0.5 nests it under ``"ome"``), or None."""
    ome = attrs.get("ome")
    found = ome.get("multiscales") if isinstance(ome, Mapping) else attrs.get("multiscales")
    return found if isinstance(found, list) and found else None


def _axes(image: Mapping[str, Any], ndim: int, where: Path) -> tuple[tuple[str, ...], tuple[str, ...], dict[str, str]]:
    stored = image.get("axes")
    if stored is None:
        if ndim > len(_DEFAULT_AXES):
            raise CorruptFileError(where, f"multiscales has no 'axes' for a {ndim}-dimensional array")
        stored = list(_DEFAULT_AXES[-ndim:])
    if not isinstance(stored, list) or len(stored) != ndim:
        raise CorruptFileError(where, f"multiscales 'axes' {stored!r} does not name the array's {ndim} axes")
    names, kinds, units = [], [], {}
    for axis in stored:
        spec = {"name": axis} if isinstance(axis, str) else axis
        if not isinstance(spec, Mapping) or not isinstance(spec.get("name"), str):
            raise CorruptFileError(where, f"multiscales axis {axis!r} has no name")
        name = spec["name"]
        names.append(name)
        kinds.append(str(spec.get("type") or _KINDS.get(name.lower(), "")))
        if spec.get("unit"):
            units[name] = str(spec["unit"])
    return tuple(names), tuple(kinds), units


def _apply(transforms: Any, scale: list[float], translation: list[float], where: Path) -> None:
    """Compose ``transforms`` (a list of scale / translation / identity) after the current scale and translation."""
    for transform in transforms or []:
        kind = transform.get("type") if isinstance(transform, Mapping) else None
        if kind == "identity":
            continue
        if kind not in ("scale", "translation"):
            raise ReadError(where, f"unsupported coordinateTransformation {transform!r}; expected scale or translation")
        values = transform.get(kind)
        if values is None:
            raise ReadError(where, f"{kind} stored in a separate file ({transform.get('path')!r}) is not supported")
        if not isinstance(values, list) or len(values) != len(scale):
            raise CorruptFileError(where, f"{kind} {values!r} does not have one value per axis ({len(scale)})")
        for i, value in enumerate(values):
            if kind == "scale":
                scale[i], translation[i] = scale[i] * float(value), translation[i] * float(value)
            else:
                translation[i] += float(value)


def level0(attrs: Mapping[str, Any], ndim_of: Callable[[str], int], where: Path) -> Level:
    """Level 0 of the first multiscale image in ``attrs``; ``ndim_of(path)`` gives the dimensions of an array."""
    found = multiscales(attrs)
    assert found is not None, "level0 needs multiscales metadata"
    image = found[0]
    datasets = image.get("datasets") if isinstance(image, Mapping) else None
    if not isinstance(datasets, list) or not datasets or not isinstance(datasets[0], Mapping):
        raise CorruptFileError(where, "multiscales has no 'datasets'; expected at least level 0")
    path = str(datasets[0].get("path", ""))
    ndim = ndim_of(path)
    names, kinds, units = _axes(image, ndim, where)
    scale, translation = [1.0] * ndim, [0.0] * ndim
    _apply(datasets[0].get("coordinateTransformations"), scale, translation, where)
    _apply(image.get("coordinateTransformations"), scale, translation, where)
    for i, name in enumerate(names):  # known lengths become mm; anything else stays as stored
        factor = MM_PER_UNIT.get(units.get(name, "").lower()) if kinds[i] == "space" else None
        if factor is not None:
            scale[i], translation[i] = scale[i] * factor, translation[i] * factor
    ome = attrs.get("ome")
    version = str((ome if isinstance(ome, Mapping) else image).get("version", ""))
    return Level(path, names, kinds, tuple(scale), tuple(translation), units, version)


def image_metadata(
    axes: str, scale: Sequence[float], translation: Sequence[float], name: str, path: str = "0"
) -> dict[str, Any]:
    """OME-NGFF 0.4 attributes of a one-level image whose array has ``axes`` (e.g. ``"zyx"``, ``"czyx"``)."""
    transforms: list[dict[str, Any]] = [{"type": "scale", "scale": [float(s) for s in scale]}]
    if any(float(t) != 0.0 for t in translation):
        transforms.append({"type": "translation", "translation": [float(t) for t in translation]})
    described = [
        {"name": a, "type": _KINDS[a], **({"unit": "millimeter"} if _KINDS[a] == "space" else {})} for a in axes
    ]
    image = {
        "version": WRITTEN_VERSION,
        "name": name,
        "axes": described,
        "datasets": [{"path": path, "coordinateTransformations": transforms}],
    }
    return {"multiscales": [image]}
