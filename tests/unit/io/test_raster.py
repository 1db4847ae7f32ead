from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest
import tifffile
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from PIL import Image

from seedlens.errors import ConfigError, CorruptFileError, ReadError, ShapeError
from seedlens.io import _png, read, write_png
from seedlens.types import Modality

RNG = np.random.default_rng(7)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
@pytest.mark.parametrize("channels", [1, 3, 4])
def test_png_round_trip_keeps_dtype_and_channels(tmp_path, dtype, channels):
    image = RNG.integers(0, np.iinfo(dtype).max, (channels, 9, 13), dtype=dtype)
    path = write_png(tmp_path / "x.png", image)
    back, meta = read(path)
    assert back.dtype == dtype and meta.modality is Modality.IMAGE
    np.testing.assert_array_equal(back, image)
    assert meta.extra["format"] == "png"


def test_png_from_hw_and_float(tmp_path):
    grey = RNG.integers(0, 255, (5, 7), dtype=np.uint8)
    np.testing.assert_array_equal(read(write_png(tmp_path / "g.png", grey))[0], grey[None])
    unit = np.linspace(0, 1, 3 * 4 * 5).reshape(3, 4, 5)
    back, _ = read(write_png(tmp_path / "f.png", unit))
    assert back.dtype == np.uint8
    np.testing.assert_array_equal(back, np.round(unit * 255).astype(np.uint8))


def test_png_written_by_pillow(tmp_path):
    grey16 = RNG.integers(0, 65535, (6, 8), dtype=np.uint16)
    Image.fromarray(grey16).save(tmp_path / "g16.png")
    rgb = RNG.integers(0, 255, (6, 8, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(tmp_path / "rgb.png")
    Image.fromarray(rgb).convert("P").save(tmp_path / "pal.png")
    back16, _ = read(tmp_path / "g16.png")
    assert back16.dtype == np.uint16
    np.testing.assert_array_equal(back16, grey16[None])
    np.testing.assert_array_equal(read(tmp_path / "rgb.png")[0], rgb.transpose(2, 0, 1))
    assert read(tmp_path / "pal.png")[0].shape == (3, 6, 8)  # palette expanded to RGB


def _filtered_png(image: np.ndarray) -> bytes:
    """A 16-bit PNG whose rows cycle through all five filter types (reference encoder for the test)."""
    channels, height, width = image.shape
    rows = np.ascontiguousarray(image.transpose(1, 2, 0).astype(">u2")).view(np.uint8).reshape(height, -1)
    bpp, out, prev = channels * 2, b"", np.zeros(rows.shape[1], np.int64)
    for y, row in enumerate(rows.astype(np.int64)):
        kind = y % 5
        left = np.concatenate([np.zeros(bpp, np.int64), row[:-bpp]])
        upleft = np.concatenate([np.zeros(bpp, np.int64), prev[:-bpp]])
        if kind == 4:
            p = left + prev - upleft
            pa, pb, pc = abs(p - left), abs(p - prev), abs(p - upleft)
            pred = np.where((pa <= pb) & (pa <= pc), left, np.where(pb <= pc, prev, upleft))
        else:
            pred = [np.zeros_like(row), left, prev, (left + prev) // 2][kind]
        out += bytes([kind]) + ((row - pred) % 256).astype(np.uint8).tobytes()
        prev = row

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 16, {3: 2, 4: 6}[channels], 0, 0, 0)
    return _png.SIGNATURE + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(out)) + chunk(b"IEND", b"")


@pytest.mark.parametrize("channels", [3, 4])
def test_16bit_colour_png_with_every_row_filter(tmp_path, channels):
    image = RNG.integers(0, 65535, (channels, 11, 7), dtype=np.uint16)
    (tmp_path / "f.png").write_bytes(_filtered_png(image))
    np.testing.assert_array_equal(read(tmp_path / "f.png")[0], image)


@settings(max_examples=40, deadline=None)
@given(
    arrays(
        dtype=st.sampled_from([np.uint8, np.uint16]),
        shape=st.tuples(st.sampled_from([1, 2, 3, 4]), st.integers(1, 9), st.integers(1, 9)),
    )
)
def test_png_codec_round_trips_any_image(image):
    np.testing.assert_array_equal(_png.decode(_png.encode(image)), image)


def test_png_decoder_agrees_with_pillow_on_filtered_8bit():
    yy, xx = np.mgrid[0:32, 0:40]
    rgb = np.stack([xx * 6, yy * 8, (xx + yy) * 3], -1).astype(np.uint8)
    import io

    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="PNG")
    np.testing.assert_array_equal(_png.decode(buffer.getvalue()), rgb.transpose(2, 0, 1))


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_truncated_png_is_corrupt(tmp_path, dtype):
    path = write_png(tmp_path / "cut.png", RNG.integers(0, 200, (3, 40, 40), dtype=dtype))
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(CorruptFileError, match=r"cut\.png"):
        read(path)


def test_png_with_bad_crc_is_corrupt(tmp_path):
    data = bytearray(_png.encode(RNG.integers(0, 9, (3, 4, 4), dtype=np.uint16)))
    data[40] ^= 0xFF  # inside IDAT
    (tmp_path / "crc.png").write_bytes(bytes(data))
    with pytest.raises(CorruptFileError, match="CRC mismatch"):
        read(tmp_path / "crc.png")


def test_jpeg_grey_rgb_and_cmyk(tmp_path):
    yy, xx = np.mgrid[0:16, 0:24]
    rgb = np.stack([xx * 10, yy * 15, np.full_like(xx, 128)], -1).astype(np.uint8)
    Image.fromarray(rgb).save(tmp_path / "c.jpg", quality=95)
    Image.fromarray(rgb[..., 0]).save(tmp_path / "g.jpeg", quality=95)
    Image.fromarray(rgb).convert("CMYK").save(tmp_path / "k.jpg", quality=95)
    colour, meta = read(tmp_path / "c.jpg")
    assert colour.shape == (3, 16, 24) and colour.dtype == np.uint8 and meta.extra["format"] == "jpeg"
    assert np.abs(colour.astype(int) - rgb.transpose(2, 0, 1)).mean() < 4
    assert read(tmp_path / "g.jpeg")[0].shape == (1, 16, 24)
    assert read(tmp_path / "k.jpg")[0].shape == (3, 16, 24)


def test_image_may_be_read_as_cube_but_not_volume(tmp_path):
    path = write_png(tmp_path / "x.png", np.zeros((3, 4, 4), np.uint8))
    assert read(path, modality="cube")[1].modality is Modality.CUBE
    with pytest.raises(ReadError, match="cannot be read as modality 'volume'"):
        read(path, modality="volume")


@pytest.mark.parametrize(
    ("image", "error"),
    [
        (np.zeros((2, 4, 4), np.uint8), ShapeError),
        (np.zeros((1, 1, 4, 4), np.uint8), ShapeError),
        (np.full((4, 4), 1.5), ConfigError),
        (np.full((4, 4), np.nan), ConfigError),
        (np.zeros((4, 4), np.int32), ConfigError),
    ],
)
def test_write_png_rejects_bad_images(tmp_path, image, error):
    with pytest.raises(error):
        write_png(tmp_path / "x.png", image)
    assert list(tmp_path.iterdir()) == []


def test_write_png_needs_png_suffix(tmp_path):
    with pytest.raises(ConfigError, match=r"\.png"):
        write_png(tmp_path / "x.jpg", np.zeros((4, 4), np.uint8))


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
def test_tiff_single_page(tmp_path, dtype):
    image = (RNG.random((6, 9)) * 200).astype(dtype)
    tifffile.imwrite(tmp_path / "p.tif", image)
    back, meta = read(tmp_path / "p.tif")
    assert back.dtype == dtype and meta.modality is Modality.IMAGE
    np.testing.assert_array_equal(back, image[None])


def test_tiff_stack_is_volume_or_cube(tmp_path):
    stack = RNG.integers(0, 4000, (7, 5, 6), dtype=np.uint16)
    tifffile.imwrite(tmp_path / "s.tiff", stack, photometric="minisblack")
    volume, meta = read(tmp_path / "s.tiff")
    assert volume.shape == (1, 7, 5, 6) and meta.modality is Modality.VOLUME
    np.testing.assert_array_equal(volume[0], stack)
    cube, meta = read(tmp_path / "s.tiff", modality="cube")
    assert cube.shape == (7, 5, 6) and meta.modality is Modality.CUBE


def test_tiff_rgb_contiguous_and_planar(tmp_path):
    rgb = RNG.integers(0, 255, (5, 6, 3), dtype=np.uint8)
    tifffile.imwrite(tmp_path / "c.tif", rgb, photometric="rgb")
    tifffile.imwrite(tmp_path / "p.tif", rgb.transpose(2, 0, 1), photometric="rgb", planarconfig="separate")
    for name in ("c.tif", "p.tif"):
        back, meta = read(tmp_path / name)
        assert meta.modality is Modality.IMAGE
        np.testing.assert_array_equal(back, rgb.transpose(2, 0, 1))


def test_truncated_tiff_is_corrupt(tmp_path):
    tifffile.imwrite(tmp_path / "t.tif", RNG.integers(0, 9, (4, 30, 30), dtype=np.uint16), photometric="minisblack")
    data = (tmp_path / "t.tif").read_bytes()
    (tmp_path / "t.tif").write_bytes(data[: len(data) // 2])
    with pytest.raises(CorruptFileError, match=r"t\.tif"):
        read(tmp_path / "t.tif")
