from __future__ import annotations

import numpy as np
import pytest

from seedlens.errors import CorruptFileError, ReadError
from seedlens.io import read
from seedlens.types import Modality

RNG = np.random.default_rng(5)


@pytest.mark.parametrize(
    ("shape", "modality", "expected_shape", "expected_modality"),
    [
        ((6, 7), None, (1, 6, 7), Modality.IMAGE),
        ((3, 6, 7), None, (3, 6, 7), Modality.IMAGE),
        ((4, 6, 7), None, (4, 6, 7), Modality.IMAGE),
        ((9, 6, 7), None, (1, 9, 6, 7), Modality.VOLUME),
        ((3, 6, 7), "volume", (1, 3, 6, 7), Modality.VOLUME),
        ((9, 6, 7), "cube", (9, 6, 7), Modality.CUBE),
        ((9, 6, 7), "image", (9, 6, 7), Modality.IMAGE),
        ((2, 5, 6, 7), None, (2, 5, 6, 7), Modality.VOLUME),
        ((6, 7), "volume", (1, 1, 6, 7), Modality.VOLUME),
        ((12,), None, (12,), Modality.TABLE),
    ],
)
def test_npy_layout_rules(tmp_path, shape, modality, expected_shape, expected_modality):
    array = RNG.random(shape).astype(np.float32)
    np.save(tmp_path / "a.npy", array)
    back, meta = read(tmp_path / "a.npy", modality=modality)
    assert back.shape == expected_shape and meta.modality is expected_modality
    assert back.dtype == np.float32
    np.testing.assert_array_equal(back.reshape(array.shape), array)


def test_npy_keeps_dtype_and_fixes_byte_order(tmp_path):
    array = np.arange(24, dtype=">u2").reshape(2, 3, 4)
    np.save(tmp_path / "b.npy", array)
    back, _ = read(tmp_path / "b.npy")
    assert back.dtype == np.uint16 and back.dtype.byteorder in ("=", "|")
    np.testing.assert_array_equal(back, array)


def test_npy_rejects_bad_shapes_for_hint(tmp_path):
    np.save(tmp_path / "v.npy", np.zeros((1, 3, 4, 5)))
    with pytest.raises(ReadError, match=r"shape \(1, 3, 4, 5\) as modality 'image'"):
        read(tmp_path / "v.npy", modality="image")
    np.save(tmp_path / "five.npy", np.zeros((1, 1, 2, 3, 4)))
    with pytest.raises(ReadError, match="cannot arrange"):
        read(tmp_path / "five.npy")


def test_npz_with_wavelengths_and_spacing_is_a_cube(tmp_path):
    cube = RNG.random((10, 4, 5)).astype(np.float32)
    np.savez(tmp_path / "c.npz", data=cube, wavelengths=np.linspace(400, 1000, 10), spacing=[0.1, 0.2])
    back, meta = read(tmp_path / "c.npz")
    assert meta.modality is Modality.CUBE
    np.testing.assert_array_equal(back, cube)
    assert meta.wavelengths == pytest.approx(list(np.linspace(400, 1000, 10)))
    assert meta.spacing == (0.1, 0.2)
    assert meta.extra["key"] == "data" and set(meta.extra["keys"]) == {"data", "wavelengths", "spacing"}


def test_npz_positional_and_single_named_array(tmp_path):
    np.savez(tmp_path / "p.npz", np.ones((5, 6)))
    assert read(tmp_path / "p.npz")[0].shape == (1, 5, 6)
    np.savez_compressed(tmp_path / "n.npz", scan=np.ones((8, 5, 6), np.int16), spacing=[1.0, 0.5, 0.5])
    volume, meta = read(tmp_path / "n.npz")
    assert volume.shape == (1, 8, 5, 6) and meta.spacing == (1.0, 0.5, 0.5) and meta.extra["key"] == "scan"


@pytest.mark.parametrize(
    ("arrays", "match"),
    [
        ({"a": np.ones((3, 3)), "b": np.ones((3, 3))}, "store the data under 'data'"),
        ({"data": np.ones((10, 4, 4)), "wavelengths": np.arange(9)}, "9 wavelengths"),
        ({"data": np.ones((4, 4)), "spacing": [1.0, 1.0, 1.0]}, "2 spatial axes"),
        ({"data": np.array(["a", "b"])}, "numeric array is expected"),
    ],
)
def test_npz_errors(tmp_path, arrays, match):
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(ReadError, match=match):
        read(tmp_path / "bad.npz")


@pytest.mark.parametrize("name", ["t.npy", "t.npz"])
def test_truncated_numpy_files_are_corrupt(tmp_path, name):
    path = tmp_path / name
    array = RNG.random((50, 50))
    np.save(path, array) if name.endswith("npy") else np.savez(path, data=array)
    path.write_bytes(path.read_bytes()[:300])
    with pytest.raises(CorruptFileError, match=name):
        read(path)
