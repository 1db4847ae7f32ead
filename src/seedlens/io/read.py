"""``read``: one entry point that picks a reader by the file's magic bytes, a companion file, or its suffix."""

from __future__ import annotations

import importlib
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from seedlens.errors import CorruptFileError, ReadError, SeedlensError, UnknownFormatError
from seedlens.io import _envi, _zarr
from seedlens.io._guard import describe
from seedlens.io._layout import is_memory_mapped
from seedlens.types import ArrayMeta, Modality

Reader = Callable[[Path, "Modality | None"], tuple[np.ndarray, ArrayMeta]]


@dataclass(frozen=True)
class _Format:
    """One readable format: how to recognise it and which private reader (``module:function``) reads it."""

    name: str
    suffixes: tuple[str, ...]
    magic: tuple[tuple[int, bytes], ...]
    reader: str  # imported on first use so that ``import seedlens.io`` does not load every library
    gzip: bool = False  # also recognised inside a gzip stream
    companion: Callable[[Path], object] | None = None  # recognised by a file beside it (ENVI/Analyze data + .hdr)
    folder: bool = False  # read from a folder, not a file
    meta_reader: str | None = None  # ``module:function`` reading the metadata alone (else the whole file is read)

    def has_magic(self, head: bytes) -> bool:
        return any(head[offset : offset + len(magic)] == magic for offset, magic in self.magic)

    def load(self) -> Reader:
        module, function = self.reader.split(":")
        reader: Reader = getattr(importlib.import_module(f"seedlens.io.{module}"), function)
        return reader

    def describe(self) -> str:
        if self.folder:
            return f"{self.name} ({' or '.join(self.suffixes) or 'a'} folder)"
        return f"{self.name} ({', '.join(self.suffixes)})"


_NIFTI_SIZE = (struct.pack("<i", 348), struct.pack(">i", 348), struct.pack("<i", 540), struct.pack(">i", 540))


def _analyze_header(data: Path) -> Path | None:
    """The Analyze/NIfTI-1 pair header beside a pair's data file (``scan.img`` -> ``scan.hdr``), if any."""
    if data.suffix.lower() != ".img":
        return None
    for candidate in (data.with_suffix(".hdr"), data.with_suffix(".HDR")):
        if candidate.is_file():
            with candidate.open("rb") as stream:
                if stream.read(4) in _NIFTI_SIZE[:2]:
                    return candidate
    return None


_FORMATS = (  # order matters: a DICOM preamble may itself look like a TIFF header
    _Format("dicom", (".dcm", ".dicom", ".ima"), ((128, b"DICM"),), "_dicom:read_file"),
    _Format("png", (".png",), ((0, b"\x89PNG\r\n\x1a\n"),), "_raster:read"),
    _Format("jpeg", (".jpg", ".jpeg", ".jpe", ".jfif"), ((0, b"\xff\xd8\xff"),), "_raster:read"),
    _Format("tiff", (".tif", ".tiff"), ((0, b"II*\0"), (0, b"MM\0*"), (0, b"II+\0"), (0, b"MM\0+")), "_tiff:read"),
    _Format(
        "nifti",
        (".nii", ".nii.gz"),
        ((344, b"n+1\0"), (344, b"ni1\0"), (4, b"n+2\0"), (4, b"ni2\0"), *((0, size) for size in _NIFTI_SIZE)),
        "_nifti:read",
        gzip=True,
        companion=_analyze_header,
        meta_reader="_nifti:read_meta",
    ),
    _Format("npy", (".npy",), ((0, b"\x93NUMPY"),), "_numpy:read_npy"),
    _Format("npz", (".npz",), (), "_numpy:read_npz"),  # a zip: only the suffix tells it from other archives
    _Format("envi", (".hdr",), ((0, b"ENVI"),), "_envi:read", companion=_envi.header_for),
    _Format("mat", (".mat",), ((0, b"MATLAB"),), "_matlab:read"),
)
_ZARR = _Format("zarr", (".zarr",), (), "_zarr:read", folder=True)
_FOLDER = _Format("dicom-series", (), (), "_dicom:read_series", folder=True)


def _known() -> str:
    return ", ".join(f.describe() for f in (*_FORMATS, _ZARR, _FOLDER))


def _detect_folder(path: Path) -> _Format:
    """A Zarr store (by its metadata files, or its ``.zarr`` name), else a DICOM series."""
    if path.name.lower().endswith(".zarr") or _zarr.is_store(path):
        return _ZARR
    return _FOLDER


def _gunzip(head: bytes) -> bytes:
    try:
        return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(head)
    except zlib.error:
        return b""


def _detect(path: Path) -> _Format:
    if path.is_dir():
        return _detect_folder(path)
    try:
        with path.open("rb") as stream:
            head = stream.read(1024)
    except OSError as exc:
        raise ReadError(path, f"cannot open: {exc.strerror or exc}") from exc
    inner = _gunzip(head) if head.startswith(b"\x1f\x8b") else b""
    for fmt in _FORMATS:
        if fmt.has_magic(head) or (fmt.gzip and inner and fmt.has_magic(inner)):
            return fmt
    for fmt in _FORMATS:
        if fmt.companion is not None and fmt.companion(path):
            return fmt
    name = path.name.lower()
    by_suffix = [(len(suffix), fmt) for fmt in _FORMATS for suffix in fmt.suffixes if name.endswith(suffix)]
    if by_suffix:
        return max(by_suffix, key=lambda match: match[0])[1]
    raise UnknownFormatError(
        path,
        f"unknown format (suffix {''.join(path.suffixes) or 'none'!r}, first bytes {head[:8]!r}); "
        f"known formats: {_known()}",
    )


def read(path: str | Path, *, modality: Modality | str | None = None) -> tuple[np.ndarray, ArrayMeta]:
    """Read an image, volume or hyperspectral cube from a file, a Zarr store or a DICOM series folder.

    The format is recognised by the file's magic bytes, then a companion file (an ENVI or Analyze header beside a
    raw data file), then the suffix. A folder is a Zarr store when it holds Zarr metadata (``.zarray``,
    ``.zgroup``, ``.zattrs``, ``zarr.json``) or is named ``*.zarr``, and one DICOM series otherwise. See
    :func:`list_formats`.

    Layouts are channel-first (see :mod:`seedlens.types`): image ``(C, H, W)``, volume ``(C, D, H, W)`` with C = 1
    (NIfTI ``(x, y, z)`` becomes ``(1, z, y, x)``), cube ``(bands, H, W)``. Native dtypes are kept (uint8, uint16,
    float32...); DICOM becomes float32 after RescaleSlope/RescaleIntercept (Hounsfield units for CT).

    Large volumes are read lazily where the file allows it: an uncompressed, unscaled NIfTI/Analyze file and an
    uncompressed, contiguous TIFF stack in native byte order come back as a view of a copy-on-write memory map
    (``extra["memory_mapped"]`` is True; NIfTI's ``(x, y, z)`` becomes a C-contiguous transposed view, an RGB stack's
    sample axis a strided one; writing to it changes memory only, never the file). A mapped array keeps one file
    descriptor open while it lives; ``np.array(array)`` makes an in-memory copy. Compressed, scaled or byte-swapped
    data is read whole; a Zarr store is decoded chunk by chunk into one array.

    Args:
        path: File, Zarr store (one array, or an OME-Zarr image: level 0 is read), or folder holding exactly one
            DICOM series.
        modality: How to read an ambiguous array (a 3D ``.npy``, a multi-page TIFF, a ``.mat`` variable):
            ``"image"``, ``"volume"`` or ``"cube"``. ``None`` lets the format decide; where the format fixes the
            layout only ``image`` and ``cube`` may be swapped.

    Returns:
        The array and its :class:`~seedlens.types.ArrayMeta`: modality, spacing in array axis order (``(D, H, W)``
        for volumes, ``(H, W)`` for images and cubes), the volume affine mapping ``(w, h, d, 1)`` to world mm
        (as stored for NIfTI, LPS for DICOM, the scale and translation of an OME-Zarr image), wavelengths for
        cubes, the source, and format details in ``extra`` (``extra["format"]`` names the reader,
        ``extra["memory_mapped"]`` says whether the array maps the file).

    Raises:
        ReadError: The file does not exist or cannot be opened, or its array does not fit the asked modality, or
            reading Zarr needs the optional ``zarr`` package (``pip install 'seedlens[zarr]'``).
        UnknownFormatError: No reader knows the file; the message lists the known formats.
        CorruptFileError: The file is truncated or corrupt; the message wraps the underlying library's message.
        DicomSeriesError: A DICOM folder mixes series, or its slice positions are duplicated or unevenly spaced.
        UnknownNameError: ``modality`` is not a known modality name.
    """
    path = Path(path).expanduser()
    hint = None if modality is None else Modality.parse(modality)
    if not path.exists():
        raise ReadError(path, "no such file or folder")
    fmt = _detect(path)
    try:
        array, meta = fmt.load()(path, hint)
    except SeedlensError:
        raise
    except MemoryError:
        raise
    except Exception as exc:  # last guard: no third-party exception leaves read() untyped
        raise CorruptFileError(path, f"cannot read as {fmt.name}: {describe(exc)}") from exc
    meta.extra["format"] = fmt.name
    meta.extra["memory_mapped"] = is_memory_mapped(array)
    return array, meta


def read_meta(path: str | Path, *, modality: Modality | str | None = None) -> ArrayMeta:
    """The :class:`~seedlens.types.ArrayMeta` of a file (modality, spacing, affine...), cheaply where it can.

    NIfTI and Analyze files are read from their header alone (a gzipped volume is not decompressed); other formats
    are read whole and their array dropped. Raises as :func:`read`.
    """
    path = Path(path).expanduser()
    hint = None if modality is None else Modality.parse(modality)
    if not path.exists():
        raise ReadError(path, "no such file or folder")
    fmt = _detect(path)
    if fmt.meta_reader is None:
        return read(path, modality=hint)[1]
    module, function = fmt.meta_reader.split(":")
    try:
        meta: ArrayMeta = getattr(importlib.import_module(f"seedlens.io.{module}"), function)(path, hint)
    except SeedlensError:
        raise
    except Exception as exc:
        raise CorruptFileError(path, f"cannot read as {fmt.name}: {describe(exc)}") from exc
    meta.extra["format"] = fmt.name
    return meta


def list_formats() -> list[str]:
    """Names of the formats :func:`read` recognises, e.g. ``["dicom", "dicom-series", "envi", ..., "zarr"]``."""
    return sorted(f.name for f in (*_FORMATS, _ZARR, _FOLDER))
