"""DICOM through pydicom.

One file -> image ``(1, H, W)`` float32 HU (colour: ``(3, H, W)`` as stored), a multi-frame file -> volume
``(1, D, H, W)``; a series folder -> volume ``(1, D, H, W)`` float32 HU with an LPS affine. Slices are ordered by
the projection of ImagePositionPatient onto the slice normal, never by file name or InstanceNumber.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError

from seedlens.errors import CorruptFileError, DicomSeriesError, ReadError, UnknownFormatError
from seedlens.io._guard import corrupt_on_error, describe
from seedlens.io._layout import native, relabel
from seedlens.types import ArrayMeta, Modality

DICOM_SUFFIXES = (".dcm", ".dicom", ".ima")
_PIXEL_KEYWORDS = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")
_KEPT_TAGS = (
    "Modality",
    "SOPClassUID",
    "SeriesInstanceUID",
    "SeriesDescription",
    "Manufacturer",
    "PhotometricInterpretation",
    "RescaleType",
    "BodyPartExamined",
)
_GAP_TOLERANCE_MM = 0.01  # slice gaps may differ from the median step by this much, or by 1 % of it
_GAP_TOLERANCE_REL = 0.01
_ORIENTATION_TOLERANCE = 1e-4
_NOT_DICOM = "not a DICOM file: no 'DICM' marker at byte 128 and no image data set could be parsed"


@dataclass
class _Slice:
    name: str
    position: np.ndarray | None  # ImagePositionPatient, (3,) mm, LPS
    orientation: np.ndarray | None  # ImageOrientationPatient: row cosines then column cosines, (6,)
    pixel_spacing: tuple[float, float] | None  # (between rows, between columns) mm
    slope: float
    intercept: float
    pixels: Callable[[], np.ndarray]  # stored values, (H, W)

    def hounsfield(self) -> np.ndarray:
        return self.pixels().astype(np.float32) * np.float32(self.slope) + np.float32(self.intercept)


def looks_like_dicom(path: Path, head: bytes | None = None) -> bool:
    if path.suffix.lower() in DICOM_SUFFIXES:
        return True
    if head is None:
        with path.open("rb") as stream:
            head = stream.read(132)
    return head[128:132] == b"DICM"


def _has_pixels(ds: Dataset) -> bool:
    return any(keyword in ds for keyword in _PIXEL_KEYWORDS)


def _open(path: Path) -> Dataset:
    with corrupt_on_error(path, "cannot read DICOM"):
        try:
            return pydicom.dcmread(path, defer_size="64 KB")
        except InvalidDicomError as exc:  # no preamble: try the raw data set, but only keep it if it holds an image
            try:
                ds = pydicom.dcmread(path, defer_size="64 KB", force=True)
            except Exception:
                raise CorruptFileError(path, _NOT_DICOM) from exc
            if not _has_pixels(ds):
                raise CorruptFileError(path, _NOT_DICOM) from exc
            return ds


def _decode(ds: Dataset, path: Path) -> np.ndarray:
    try:
        return np.asarray(ds.pixel_array)
    except (NotImplementedError, RuntimeError, ImportError) as exc:
        syntax = getattr(ds.get("file_meta", Dataset()).get("TransferSyntaxUID"), "name", "unknown")
        raise ReadError(path, f"cannot decode pixel data stored as {syntax}: {describe(exc)}") from exc
    except Exception as exc:
        raise CorruptFileError(path, f"corrupt pixel data: {describe(exc)}") from exc


def _lookup(ds: Dataset, groups: Sequence[Dataset], sequence: str, keyword: str) -> Any:
    """``keyword`` from a functional-group sequence (per-frame first, then shared), else from the top level."""
    for group in groups:
        items = group.get(sequence)
        if items and keyword in items[0] and items[0][keyword].value not in (None, ""):
            return items[0][keyword].value
    value = ds.get(keyword)
    return None if value in (None, "") else value


def _floats(value: Any, length: int, name: str, path: Path) -> np.ndarray | None:
    if value is None:
        return None
    try:
        vector = np.array([float(v) for v in value], dtype=np.float64)
    except (TypeError, ValueError):
        vector = np.empty(0)
    if vector.shape != (length,) or not np.isfinite(vector).all():
        raise CorruptFileError(path, f"{name} must hold {length} numbers; got {value!r}")
    return vector


def _slices_of(ds: Dataset, path: Path) -> list[_Slice]:
    frames = int(ds.get("NumberOfFrames") or 1)
    per_frame = ds.get("PerFrameFunctionalGroupsSequence") or []
    shared = list(ds.get("SharedFunctionalGroupsSequence") or [])[:1]
    decoded: list[np.ndarray] = []

    def frame(index: int) -> Callable[[], np.ndarray]:
        def pixels() -> np.ndarray:
            if not decoded:
                decoded.append(_decode(ds, path))
            return decoded[0][index] if frames > 1 else decoded[0]

        return pixels

    slices = []
    for i in range(frames):
        groups = ([per_frame[i]] if i < len(per_frame) else []) + shared
        spacing = _floats(_lookup(ds, groups, "PixelMeasuresSequence", "PixelSpacing"), 2, "PixelSpacing", path)
        slope = _lookup(ds, groups, "PixelValueTransformationSequence", "RescaleSlope")
        intercept = _lookup(ds, groups, "PixelValueTransformationSequence", "RescaleIntercept")
        slices.append(
            _Slice(
                name=path.name if frames == 1 else f"{path.name}[frame {i}]",
                position=_floats(
                    _lookup(ds, groups, "PlanePositionSequence", "ImagePositionPatient"),
                    3,
                    "ImagePositionPatient",
                    path,
                ),
                orientation=_floats(
                    _lookup(ds, groups, "PlaneOrientationSequence", "ImageOrientationPatient"),
                    6,
                    "ImageOrientationPatient",
                    path,
                ),
                pixel_spacing=None if spacing is None else (float(spacing[0]), float(spacing[1])),
                slope=1.0 if slope is None else float(slope),
                intercept=0.0 if intercept is None else float(intercept),
                pixels=frame(i),
            )
        )
    return slices


def _nominal_step(ds: Dataset) -> float | None:
    """Slice step written in the header, for a single slice or a multi-frame file without positions."""
    shared = list(ds.get("SharedFunctionalGroupsSequence") or [])[:1]
    for keyword in ("SpacingBetweenSlices", "SliceThickness"):
        value = _lookup(ds, shared, "PixelMeasuresSequence", keyword)
        if value is not None and float(value) > 0:
            return float(value)
    return None


def _gap_summary(gaps: np.ndarray) -> str:
    counts = Counter(round(float(g), 3) for g in gaps)
    return ", ".join(f"{gap:g} mm ×{n}" for gap, n in sorted(counts.items()))


@dataclass
class _Geometry:
    order: list[int]
    affine: np.ndarray | None
    spacing: tuple[float, ...] | None


def _geometry(slices: list[_Slice], source: Path, nominal_step: float | None, *, required: bool) -> _Geometry:
    """Slice order, LPS affine and ``(D, H, W)`` spacing; raises DicomSeriesError for an inconsistent series."""
    first = slices[0]
    rows_cols = first.pixel_spacing or (1.0, 1.0)
    missing = [s.name for s in slices if s.position is None or s.orientation is None]
    if missing:
        if required and len(slices) > 1:
            raise DicomSeriesError(
                source,
                f"{missing[0]} has no ImagePositionPatient/ImageOrientationPatient, so the slices cannot be ordered",
            )
        spacing = None if first.pixel_spacing is None else (nominal_step or 1.0, *first.pixel_spacing)
        return _Geometry(list(range(len(slices))), None, spacing)
    assert first.orientation is not None
    for other in slices[1:]:
        assert other.orientation is not None
        if np.abs(other.orientation - first.orientation).max() > _ORIENTATION_TOLERANCE:
            raise DicomSeriesError(
                source,
                f"slices differ in orientation: {first.name} has ImageOrientationPatient {first.orientation.tolist()}, "
                f"{other.name} has {other.orientation.tolist()}",
            )
        if other.pixel_spacing != first.pixel_spacing:
            raise DicomSeriesError(
                source,
                f"slices differ in PixelSpacing: {first.name} {first.pixel_spacing}, "
                f"{other.name} {other.pixel_spacing}",
            )
    row, col = first.orientation[:3], first.orientation[3:]
    normal = np.cross(row, col)
    if not 0.9 < np.linalg.norm(normal) < 1.1:
        raise DicomSeriesError(source, f"ImageOrientationPatient {first.orientation.tolist()} is not two unit vectors")
    normal /= np.linalg.norm(normal)
    positions = np.stack([s.position for s in slices if s.position is not None])
    along = positions @ normal
    order = [int(i) for i in np.argsort(along, kind="stable")]
    along, positions = along[order], positions[order]
    if len(slices) > 1:
        gaps = np.diff(along)
        duplicates = np.flatnonzero(gaps <= _GAP_TOLERANCE_MM)
        if duplicates.size:
            pairs = "; ".join(
                f"{slices[order[i]].name} and {slices[order[i + 1]].name} at {along[i]:.3f} mm" for i in duplicates[:5]
            )
            raise DicomSeriesError(
                source,
                f"duplicate slice positions along the slice normal ({duplicates.size} found): {pairs}; "
                f"gaps found: {_gap_summary(gaps)}",
            )
        step = float(np.median(gaps))
        tolerance = max(_GAP_TOLERANCE_MM, _GAP_TOLERANCE_REL * step)
        uneven = np.flatnonzero(np.abs(gaps - step) > tolerance)
        if uneven.size:
            i = int(uneven[0])
            raise DicomSeriesError(
                source,
                f"uneven slice spacing: gaps found {_gap_summary(gaps)} "
                f"(median {step:g} mm, tolerance ±{tolerance:g} mm); "
                f"first irregular gap {gaps[i]:.4g} mm between {slices[order[i]].name} and "
                f"{slices[order[i + 1]].name} (a missing or extra slice?)",
            )
        slice_step = float(along[-1] - along[0]) / (len(slices) - 1)
        step_vector = (positions[-1] - positions[0]) / (len(slices) - 1)  # keeps gantry tilt as a shear
        expected = positions[0] + np.arange(len(slices))[:, None] * step_vector
        off_line = np.linalg.norm(positions - expected, axis=1)
        if off_line.max() > max(_GAP_TOLERANCE_MM, _GAP_TOLERANCE_REL * float(np.linalg.norm(step_vector))):
            worst = int(off_line.argmax())
            raise DicomSeriesError(
                source,
                f"slice positions do not lie on one line: {slices[order[worst]].name} is "
                f"{off_line[worst]:.3g} mm away from it",
            )
    else:
        slice_step = nominal_step or 1.0
        step_vector = normal * slice_step
    affine = np.eye(4)
    affine[:3, 0] = row * rows_cols[1]  # w (column index) runs along the row direction
    affine[:3, 1] = col * rows_cols[0]  # h (row index) runs along the column direction
    affine[:3, 2] = step_vector
    affine[:3, 3] = positions[0]
    return _Geometry(order, affine, (slice_step, *rows_cols))


def _extra(ds: Dataset, **more: Any) -> dict[str, Any]:
    extra = {keyword: str(ds.get(keyword)) for keyword in _KEPT_TAGS if ds.get(keyword) not in (None, "")}
    return extra | more


def _volume(slices: list[_Slice], geometry: _Geometry) -> np.ndarray:
    return np.stack([slices[i].hounsfield() for i in geometry.order])[None]


def _colour(ds: Dataset, path: Path, hint: Modality | None) -> tuple[np.ndarray, ArrayMeta]:
    pixels = _decode(ds, path)  # (H, W, S) or (F, H, W, S)
    array = native(np.moveaxis(pixels, -1, 0))
    natural = Modality.IMAGE if array.ndim == 3 else Modality.VOLUME
    modality = relabel(array, natural, hint, path)
    return array, ArrayMeta(modality=modality, source=path, extra=_extra(ds))


def read_file(path: Path, hint: Modality | None) -> tuple[np.ndarray, ArrayMeta]:
    ds = _open(path)
    if not _has_pixels(ds):
        sop = getattr(ds.get("SOPClassUID"), "name", "unknown SOP class")
        raise ReadError(path, f"DICOM file holds no pixel data ({sop})")
    if int(ds.get("SamplesPerPixel") or 1) > 1:
        return _colour(ds, path, hint)
    slices = _slices_of(ds, path)
    if len(slices) == 1 and hint is not Modality.VOLUME:
        image = native(slices[0].hounsfield()[None])
        modality = relabel(image, Modality.IMAGE, hint, path)
        extra = _extra(ds)
        if slices[0].position is not None and slices[0].orientation is not None:
            extra["ImagePositionPatient"] = slices[0].position.tolist()
            extra["ImageOrientationPatient"] = slices[0].orientation.tolist()
        return image, ArrayMeta(modality=modality, spacing=slices[0].pixel_spacing, source=path, extra=extra)
    geometry = _geometry(slices, path, _nominal_step(ds), required=False)
    volume = native(_volume(slices, geometry))
    modality = relabel(volume, Modality.VOLUME, hint, path)
    return volume, ArrayMeta(
        modality=modality,
        spacing=geometry.spacing,
        affine=geometry.affine,
        source=path,
        extra=_extra(ds, frames=len(slices)),
    )


def read_series(folder: Path, hint: Modality | None) -> tuple[np.ndarray, ArrayMeta]:
    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    found: list[tuple[Path, Dataset]] = []
    skipped: list[str] = []
    for file in files:
        ds = _open(file) if looks_like_dicom(file) else None
        if ds is None or not _has_pixels(ds):  # DICOMDIR, reports, notes...: not slices
            skipped.append(file.name)
        else:
            found.append((file, ds))
    if not found:
        listed = ", ".join(skipped[:5]) + (" ..." if len(skipped) > 5 else "")
        raise UnknownFormatError(
            folder,
            f"a folder is read as a DICOM series, but it holds no DICOM image files (found: {listed or 'nothing'})",
        )
    series = Counter(str(ds.get("SeriesInstanceUID") or "(no SeriesInstanceUID)") for _, ds in found)
    if len(series) > 1:
        listed = ", ".join(f"{uid} ({n} file{'s' if n > 1 else ''})" for uid, n in series.most_common())
        raise DicomSeriesError(
            folder, f"folder mixes {len(series)} DICOM series (SeriesInstanceUID): {listed}; give each its own folder"
        )
    if len(found) == 1 and int(found[0][1].get("NumberOfFrames") or 1) > 1:
        return read_file(found[0][0], hint)
    sizes = Counter(
        (
            int(ds.get("Rows") or 0),
            int(ds.get("Columns") or 0),
            int(ds.get("SamplesPerPixel") or 1),
            int(ds.get("NumberOfFrames") or 1),
        )
        for _, ds in found
    )
    if len(sizes) > 1:
        listed = ", ".join(f"{r}×{c} ({s} samples, {f} frames): {n} files" for (r, c, s, f), n in sizes.items())
        raise DicomSeriesError(folder, f"slices differ in size or kind: {listed}")
    _, _, samples, frames = next(iter(sizes))
    if samples > 1 or frames > 1:
        raise DicomSeriesError(
            folder,
            "a series folder must hold single-frame greyscale slices; read colour or multi-frame files one at a time",
        )
    slices = [_slices_of(ds, file)[0] for file, ds in found]
    geometry = _geometry(slices, folder, _nominal_step(found[0][1]), required=True)
    volume = native(_volume(slices, geometry))
    modality = relabel(volume, Modality.VOLUME, hint, folder)
    extra = _extra(found[0][1], files=[slices[i].name for i in geometry.order], skipped=skipped)
    return volume, ArrayMeta(
        modality=modality, spacing=geometry.spacing, affine=geometry.affine, source=folder, extra=extra
    )
