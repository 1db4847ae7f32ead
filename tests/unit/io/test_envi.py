from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from seedlens.errors import CorruptFileError, ReadError
from seedlens.io import read
from seedlens.types import Modality

RNG = np.random.default_rng(11)
BANDS, LINES, SAMPLES = 4, 5, 6
FILE_AXES = {"bsq": (0, 1, 2), "bil": (1, 0, 2), "bip": (1, 2, 0)}  # cube (bands, lines, samples) -> file order
CODES = {1: "u1", 2: "i2", 3: "i4", 4: "f4", 5: "f8", 12: "u2", 13: "u4", 14: "i8", 15: "u8"}


def write_envi(
    folder: Path,
    cube: np.ndarray,
    *,
    interleave: str = "bsq",
    byte_order: int = 0,
    offset: int = 0,
    code: int = 4,
    data_name: str = "cube.img",
    header_name: str = "cube.hdr",
    extra: str = "",
) -> tuple[Path, Path]:
    dtype = np.dtype(CODES[code]).newbyteorder("<" if byte_order == 0 else ">")
    payload = np.ascontiguousarray(cube.transpose(FILE_AXES[interleave])).astype(dtype).tobytes()
    (folder / data_name).write_bytes(b"\xab" * offset + payload)
    bands, lines, samples = cube.shape
    header = (
        "ENVI\ndescription = {synthetic\n  seed cube}\n"
        f"samples = {samples}\nlines   = {lines}\nbands = {bands}\nheader offset = {offset}\n"
        f"file type = ENVI Standard\ndata type = {code}\ninterleave = {interleave}\nbyte order = {byte_order}\n{extra}"
    )
    (folder / header_name).write_text(header)
    return folder / header_name, folder / data_name


@pytest.mark.parametrize("interleave", ["bsq", "bil", "bip"])
@pytest.mark.parametrize("byte_order", [0, 1])
@pytest.mark.parametrize("offset", [0, 37])
def test_envi_interleaves_byte_orders_offsets(tmp_path, interleave, byte_order, offset):
    cube = RNG.random((BANDS, LINES, SAMPLES)).astype(np.float32)
    header, data = write_envi(tmp_path, cube, interleave=interleave, byte_order=byte_order, offset=offset)
    for path in (header, data):  # the header or the data file may be named
        back, meta = read(path)
        assert meta.modality is Modality.CUBE and back.dtype == np.float32
        assert back.dtype.byteorder in ("=", "|") and back.flags.c_contiguous
        np.testing.assert_array_equal(back, cube)
        assert meta.extra["format"] == "envi"


@pytest.mark.parametrize("code", sorted(CODES))
def test_envi_data_types(tmp_path, code):
    cube = RNG.integers(0, 100, (BANDS, LINES, SAMPLES)).astype(CODES[code])
    header, _ = write_envi(tmp_path, cube, code=code, byte_order=1, interleave="bil")
    back, _ = read(header)
    assert back.dtype == np.dtype(CODES[code])
    np.testing.assert_array_equal(back, cube)


def test_envi_agrees_with_spectral(tmp_path):
    spectral_envi = pytest.importorskip("spectral.io.envi")
    cube = RNG.integers(0, 4000, (BANDS, LINES, SAMPLES)).astype(np.uint16)
    header, data = write_envi(tmp_path, cube, code=12, interleave="bip", byte_order=1, offset=16)
    reference = np.asarray(spectral_envi.open(str(header), str(data)).load())  # (lines, samples, bands)
    np.testing.assert_array_equal(read(header)[0], reference.transpose(2, 0, 1))


@pytest.mark.parametrize(
    ("data_name", "header_name"),
    [("cube.dat", "cube.hdr"), ("cube.raw", "cube.hdr"), ("cube", "cube.hdr"), ("cube.img", "cube.img.hdr")],
)
def test_envi_partner_files(tmp_path, data_name, header_name):
    cube = RNG.random((BANDS, LINES, SAMPLES)).astype(np.float32)
    header, data = write_envi(tmp_path, cube, data_name=data_name, header_name=header_name)
    np.testing.assert_array_equal(read(header)[0], cube)
    np.testing.assert_array_equal(read(data)[0], cube)


def test_envi_wavelengths_in_micrometres_become_nm(tmp_path):
    cube = RNG.random((BANDS, LINES, SAMPLES)).astype(np.float32)
    extra = "wavelength units = Micrometers\nwavelength = {\n 0.45, 0.55,\n 0.65, 0.75}\nband names = {a, b, c, d}\n"
    header, _ = write_envi(tmp_path, cube, extra=extra)
    _, meta = read(header)
    assert meta.wavelengths == pytest.approx([450.0, 550.0, 650.0, 750.0])
    assert meta.extra["header"]["band names"] == "{a, b, c, d}"
    assert meta.extra["header"]["description"] == "{synthetic   seed cube}"


def test_envi_binary_shorter_than_header_is_corrupt(tmp_path):
    header, data = write_envi(tmp_path, RNG.random((BANDS, LINES, SAMPLES)).astype(np.float32), offset=10)
    data.write_bytes(data.read_bytes()[:-4])
    with pytest.raises(CorruptFileError, match=r"cube\.img") as info:
        read(header)
    assert "cube.hdr describes 490" in str(info.value) and "486 bytes" in str(info.value)


@pytest.mark.parametrize(
    ("extra", "error", "match"),
    [
        ("wavelength = {1, 2, 3}\n", CorruptFileError, "3 wavelengths for 4 bands"),
        ("wavelength = {1, 2, x, 4}\n", CorruptFileError, "list of numbers"),
        ("band names = {a, b\n", CorruptFileError, "never closes"),
        ("this line has no equals sign\n", CorruptFileError, "expected 'key = value'"),
    ],
)
def test_envi_header_errors(tmp_path, extra, error, match):
    header, _ = write_envi(tmp_path, RNG.random((BANDS, LINES, SAMPLES)).astype(np.float32), extra=extra)
    with pytest.raises(error, match=match) as info:
        read(header)
    assert "cube.hdr" in str(info.value)


def test_envi_bad_fields(tmp_path):
    header, _ = write_envi(tmp_path, RNG.random((BANDS, LINES, SAMPLES)).astype(np.float32))
    text = header.read_text()
    header.write_text(text.replace("data type = 4", "data type = 7"))
    with pytest.raises(ReadError, match="data type 7 is not supported"):
        read(header)
    header.write_text(text.replace("interleave = bsq", "interleave = zig"))
    with pytest.raises(CorruptFileError, match="interleave"):
        read(header)
    header.write_text(text.replace("lines   = 5\n", ""))
    with pytest.raises(CorruptFileError, match="'lines'"):
        read(header)
    header.write_text(text.replace("samples = 6", "samples = six"))
    with pytest.raises(CorruptFileError, match="must be an integer"):
        read(header)


def test_envi_header_without_data(tmp_path):
    header, data = write_envi(tmp_path, RNG.random((BANDS, LINES, SAMPLES)).astype(np.float32))
    data.unlink()
    with pytest.raises(ReadError, match="without its data file"):
        read(header)
