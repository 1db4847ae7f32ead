"""ENVI ``.hdr`` + raw binary -> cube ``(bands, H, W)``; BSQ, BIL and BIP, either byte order, header offset."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from seedlens.errors import CorruptFileError, ReadError
from seedlens.io._layout import native, relabel
from seedlens.types import ArrayMeta, Modality

DATA_SUFFIXES = (".img", ".dat", ".raw", ".bsq", ".bil", ".bip", ".bin", "")
DTYPES = {1: "u1", 2: "i2", 3: "i4", 4: "f4", 5: "f8", 6: "c8", 9: "c16", 12: "u2", 13: "u4", 14: "i8", 15: "u8"}
# axis order in the file for each interleave; the cube is always (bands, lines, samples)
_INTERLEAVE = {
    "bsq": ("bands", "lines", "samples"),
    "bil": ("lines", "bands", "samples"),
    "bip": ("lines", "samples", "bands"),
}
_TO_NM = {
    "nanometers": 1.0,
    "nm": 1.0,
    "micrometers": 1e3,
    "micrometer": 1e3,
    "microns": 1e3,
    "um": 1e3,
    "µm": 1e3,
    "millimeters": 1e6,
    "mm": 1e6,
}
_FIELD = re.compile(r"^\s*([^=]+?)\s*=\s*(.*)$")


def is_header(path: Path) -> bool:
    try:
        with path.open("rb") as stream:
            return stream.read(4) == b"ENVI"
    except OSError:
        return False


def header_for(data: Path) -> Path | None:
    """The ENVI header beside a data file (``cube.img`` -> ``cube.hdr`` or ``cube.img.hdr``), if any."""
    if data.suffix.lower() == ".hdr":
        return None
    for candidate in (data.with_suffix(".hdr"), data.with_suffix(".HDR"), data.with_name(data.name + ".hdr")):
        if candidate != data and candidate.is_file() and is_header(candidate):
            return candidate
    return None


def data_for(header: Path) -> Path | None:
    """The data file beside an ENVI header."""
    stem = header.with_suffix("")
    for suffix in DATA_SUFFIXES:
        for candidate in (stem.with_name(stem.name + suffix), stem.with_name(stem.name + suffix.upper())):
            if candidate != header and candidate.is_file():
                return candidate
    return None


def parse_header(path: Path) -> dict[str, str]:
    """Header fields, lower-case keys, values as written (brace lists keep their braces)."""
    text = path.read_text(encoding="latin-1")
    lines = text.splitlines()
    if not lines or lines[0].strip() != "ENVI":
        raise CorruptFileError(path, "not an ENVI header: the first line must be 'ENVI'")
    fields: dict[str, str] = {}
    pending: tuple[str, list[str]] | None = None
    for number, line in enumerate(lines[1:], start=2):
        if pending is not None:
            pending[1].append(line)
            if "}" in line:
                fields[pending[0]] = " ".join(pending[1]).strip()
                pending = None
            continue
        if not line.strip() or line.lstrip().startswith(";"):
            continue
        match = _FIELD.match(line)
        if match is None:
            raise CorruptFileError(path, f"line {number}: expected 'key = value'; got {line.strip()!r}")
        key, value = " ".join(match.group(1).lower().split()), match.group(2).strip()
        if value.startswith("{") and "}" not in value:
            pending = (key, [value])
        else:
            fields[key] = value
    if pending is not None:
        raise CorruptFileError(path, f"field {pending[0]!r} opens '{{' but never closes it")
    return fields


def _integer(fields: dict[str, str], key: str, path: Path, default: int | None = None) -> int:
    value = fields.get(key)
    if value is None:
        if default is None:
            raise CorruptFileError(path, f"ENVI header lacks the required field {key!r}")
        return default
    try:
        return int(value)
    except ValueError:
        raise CorruptFileError(path, f"ENVI header field {key!r} must be an integer; got {value!r}") from None


def _number_list(value: str, key: str, path: Path) -> list[float]:
    items = [item.strip() for item in value.strip().strip("{}").split(",") if item.strip()]
    try:
        return [float(item) for item in items]
    except ValueError:
        message = f"ENVI header field {key!r} must be a list of numbers; got {value[:80]!r}"
        raise CorruptFileError(path, message) from None


def _wavelengths(fields: dict[str, str], bands: int, path: Path) -> list[float] | None:
    if "wavelength" not in fields:
        return None
    values = _number_list(fields["wavelength"], "wavelength", path)
    if len(values) != bands:
        raise CorruptFileError(path, f"ENVI header lists {len(values)} wavelengths for {bands} bands")
    scale = _TO_NM.get(fields.get("wavelength units", "").strip().lower(), 1.0)
    return [v * scale for v in values]


def read(path: Path, hint: Modality | None) -> tuple[np.ndarray, ArrayMeta]:
    if is_header(path):
        header, data = path, data_for(path)
        if data is None:
            looked = ", ".join(path.with_suffix(s).name for s in DATA_SUFFIXES)
            raise ReadError(path, f"ENVI header without its data file; looked for {looked}")
    else:
        found = header_for(path)
        if found is None:
            raise ReadError(path, "no ENVI header (.hdr) found beside this data file")
        header, data = found, path
    fields = parse_header(header)
    samples, lines, bands = (_integer(fields, key, header) for key in ("samples", "lines", "bands"))
    code = _integer(fields, "data type", header)
    offset = _integer(fields, "header offset", header, default=0)
    order = _integer(fields, "byte order", header, default=0)
    interleave = fields.get("interleave", "bsq").strip().lower()
    if min(samples, lines, bands) < 1 or offset < 0:
        raise CorruptFileError(
            header,
            f"ENVI header gives samples={samples}, lines={lines}, bands={bands}, "
            f"header offset={offset}; positive sizes expected",
        )
    if code not in DTYPES:
        raise ReadError(header, f"ENVI data type {code} is not supported; known: {sorted(DTYPES)}")
    if order not in (0, 1):
        raise CorruptFileError(header, f"ENVI byte order must be 0 (little endian) or 1 (big endian); got {order}")
    if interleave not in _INTERLEAVE:
        raise CorruptFileError(header, f"ENVI interleave must be bsq, bil or bip; got {interleave!r}")
    dtype = np.dtype(DTYPES[code]).newbyteorder("<" if order == 0 else ">")
    count = samples * lines * bands
    needed = offset + count * dtype.itemsize
    size = data.stat().st_size
    if size < needed:
        raise CorruptFileError(
            data,
            f"ENVI data file has {size} bytes; header {header.name} describes {needed} "
            f"(offset {offset} + {samples}×{lines}×{bands} × {dtype.itemsize} bytes): truncated?",
        )
    axes = _INTERLEAVE[interleave]
    sizes = {"bands": bands, "lines": lines, "samples": samples}
    raw = np.fromfile(data, dtype=dtype, count=count, offset=offset).reshape([sizes[a] for a in axes])
    cube = native(raw.transpose([axes.index(a) for a in ("bands", "lines", "samples")]))
    modality = relabel(cube, Modality.CUBE, hint, path)
    extra = {
        "header": {k: v for k, v in fields.items() if k != "wavelength"},
        "data_file": str(data),
        "interleave": interleave,
    }
    return cube, ArrayMeta(modality=modality, wavelengths=_wavelengths(fields, bands, header), source=path, extra=extra)
