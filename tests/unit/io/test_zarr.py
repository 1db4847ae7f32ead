"""Zarr stores: plain arrays and OME-Zarr images round-trip values, spacing and affine; bad stores name themselves."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from seedlens.errors import ConfigError, CorruptFileError, ReadError, ShapeError
from seedlens.io import list_formats, read, write_nifti, write_zarr
from seedlens.io._zarr import _copy
from seedlens.types import Modality

zarr = pytest.importorskip("zarr")
ZARR3 = int(zarr.__version__.split(".")[0]) >= 3
V2 = {"zarr_format": 2} if ZARR3 else {}
RNG = np.random.default_rng(5)


def _affine(spacing: tuple[float, float, float], origin: tuple[float, float, float]) -> np.ndarray:
    """The affine of a (D, H, W) grid: maps (w, h, d, 1), so the diagonal is (sw, sh, sd)."""
    affine = np.diag([*spacing[::-1], 1.0])
    affine[:3, 3] = origin
    return affine


def _group(path: Path, attrs: dict[str, Any], arrays: dict[str, np.ndarray], **kwargs: Any) -> Path:
    """A Zarr group written with zarr itself (zarr-python 2 or 3), as another tool would write it."""
    group = zarr.open_group(str(path), mode="w", **(kwargs or V2))
    for name, data in arrays.items():
        create = getattr(group, "create_array", None) or group.create_dataset
        array = create(name, shape=data.shape, dtype=data.dtype, chunks=tuple(min(16, n) for n in data.shape))
        array[...] = data
    group.attrs.update(attrs)
    return path


def _multiscales(axes: list[Any], transforms: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    datasets = [{"path": "s0", "coordinateTransformations": transforms},
                {"path": "s1", "coordinateTransformations": [{"type": "scale", "scale": [9.0] * len(axes)}]}]
    return {"multiscales": [{"version": "0.4", "axes": axes, "datasets": datasets, **extra}]}


@pytest.mark.parametrize("dtype", [np.uint16, np.float32])
def test_ome_zarr_round_trip(tmp_path, dtype):
    volume = (RNG.random((1, 70, 40, 33)) * 1000).astype(dtype)
    affine = _affine((3.0, 0.6, 0.5), (-10.0, 2.5, 7.0))
    out = write_zarr(tmp_path / "scan.zarr", volume, affine, chunks=(32, 16, 16))
    assert out == tmp_path / "scan.zarr" and (out / ".zgroup").is_file() and (out / "0" / ".zarray").is_file()
    back, meta = read(out)
    assert back.dtype == dtype and back.shape == (1, 70, 40, 33) and meta.modality is Modality.VOLUME
    np.testing.assert_array_equal(back, volume)
    assert meta.spacing == pytest.approx((3.0, 0.6, 0.5))
    np.testing.assert_allclose(meta.affine, affine)
    assert meta.extra["format"] == "zarr" and meta.extra["ome_version"] == "0.4" and meta.extra["axes"] == "zyx"
    assert meta.extra["chunks"] == [32, 16, 16] and meta.extra["memory_mapped"] is False
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # the temporary folder is gone


def test_plain_array_round_trip_keeps_an_oblique_affine(tmp_path):
    nifti = tmp_path / "ct.nii"
    oblique = np.array([[0.0, -0.8, 0.0, 10.0], [0.7, 0.0, 0.0, -5.0], [0.0, 0.0, 2.0, 1.0], [0.0, 0.0, 0.0, 1.0]])
    write_nifti(nifti, RNG.integers(-1000, 2000, (9, 20, 18), dtype=np.int16), oblique)
    volume, meta = read(nifti)
    back, back_meta = read(write_zarr(tmp_path / "ct.zarr", volume, meta.affine, ome=False))
    assert (tmp_path / "ct.zarr" / ".zarray").is_file()
    np.testing.assert_array_equal(back, volume)
    np.testing.assert_allclose(back_meta.affine, meta.affine)
    assert back_meta.spacing == pytest.approx(meta.spacing)
    with pytest.raises(ConfigError, match="ome=False"):
        write_zarr(tmp_path / "oblique.zarr", volume, meta.affine)


def test_spacing_only_and_channels(tmp_path):
    volume = RNG.random((2, 6, 8, 10)).astype(np.float32)
    back, meta = read(write_zarr(tmp_path / "two.zarr", volume, spacing=(2.0, 1.0, 0.5)))
    np.testing.assert_array_equal(back, volume)
    assert meta.extra["axes"] == "czyx" and meta.spacing == (2.0, 1.0, 0.5)
    np.testing.assert_allclose(meta.affine, np.diag([0.5, 1.0, 2.0, 1.0]))


def test_foreign_ome_zarr_units_levels_and_singleton_axes(tmp_path):
    data = RNG.integers(0, 255, (1, 1, 12, 20, 24), dtype=np.uint8)
    axes = [{"name": "t", "type": "time", "unit": "second"}, {"name": "c", "type": "channel"},
            *({"name": a, "type": "space", "unit": "micrometer"} for a in "zyx")]
    transforms = [{"type": "scale", "scale": [1.0, 1.0, 20.0, 5.0, 5.0]},
                  {"type": "translation", "translation": [0.0, 0.0, 100.0, 0.0, -50.0]}]
    attrs = _multiscales(axes, transforms, coordinateTransformations=[{"type": "scale", "scale": [1, 1, 2, 2, 2]}])
    path = _group(tmp_path / "seed.zarr", attrs, {"s0": data, "s1": data[..., ::2, ::2, ::2]})
    volume, meta = read(path)
    assert volume.shape == (1, 12, 20, 24) and meta.modality is Modality.VOLUME
    np.testing.assert_array_equal(volume, data[0])
    assert meta.spacing == pytest.approx((0.04, 0.01, 0.01))  # µm scales, composed with the image's scale, in mm
    np.testing.assert_allclose(meta.affine, _affine((0.04, 0.01, 0.01), (-0.1, 0.0, 0.2)))
    assert meta.extra["array"] == "s0" and meta.extra["units"]["x"] == "micrometer"


def test_ome_axes_as_strings_and_xyz_order(tmp_path):
    data = RNG.random((5, 6, 7)).astype(np.float32)  # stored (x, y, z)
    attrs = _multiscales(["x", "y", "z"], [{"type": "scale", "scale": [0.5, 1.0, 4.0]}])
    volume, meta = read(_group(tmp_path / "xyz.zarr", attrs, {"s0": data, "s1": data}))
    np.testing.assert_array_equal(volume[0], data.transpose(2, 1, 0))
    assert meta.spacing == (4.0, 1.0, 0.5)


def test_ome_images_and_hints(tmp_path):
    rgb = RNG.integers(0, 255, (3, 10, 12), dtype=np.uint8)
    axes = [{"name": "c", "type": "channel"}, {"name": "y", "type": "space"}, {"name": "x", "type": "space"}]
    path = _group(tmp_path / "rgb.zarr", _multiscales(axes, [{"type": "scale", "scale": [1, 0.2, 0.1]}]),
                  {"s0": rgb, "s1": rgb})
    image, meta = read(path)
    assert meta.modality is Modality.IMAGE and meta.spacing == (0.2, 0.1) and meta.affine is None
    np.testing.assert_array_equal(image, rgb)
    assert read(path, modality="cube")[1].modality is Modality.CUBE
    with pytest.raises(ReadError, match="cannot be read as modality 'volume'"):
        read(path, modality="volume")
    plane = _group(tmp_path / "plane.zarr", _multiscales(list("zyx"), []), {"s0": rgb[:1], "s1": rgb[:1]})
    image, meta = read(plane, modality="image")
    assert image.shape == (1, 10, 12) and meta.modality is Modality.IMAGE


def test_time_series_is_a_clear_error(tmp_path):
    data = np.zeros((2, 4, 5, 6), np.uint8)
    path = _group(tmp_path / "t.zarr", _multiscales(["t", "z", "y", "x"], []), {"s0": data, "s1": data})
    with pytest.raises(ReadError, match=r"t\.zarr: time axis 't' has length 2"):
        read(path)


def test_plain_arrays_and_one_array_groups(tmp_path):
    stack = RNG.random((7, 9, 11)).astype(np.float32)
    store = zarr.open_array(str(tmp_path / "a.zarr"), mode="w", shape=stack.shape, dtype=stack.dtype, chunks=(3, 4, 5),
                            **V2)
    store[...] = stack
    volume, meta = read(tmp_path / "a.zarr")
    assert volume.shape == (1, 7, 9, 11) and meta.spacing is None and meta.affine is None
    np.testing.assert_array_equal(volume[0], stack)
    cube, meta = read(tmp_path / "a.zarr", modality="cube")
    assert cube.shape == (7, 9, 11) and meta.modality is Modality.CUBE
    swapped = stack.astype(">f4")
    _group(tmp_path / "folder_without_suffix", {}, {"only": swapped})
    volume, meta = read(tmp_path / "folder_without_suffix")  # recognised by its .zgroup, not taken for DICOM
    assert volume.dtype == np.float32 and volume.dtype.byteorder == "=" and meta.extra["array"] == "only"
    np.testing.assert_array_equal(volume[0], stack)


@pytest.mark.skipif(not ZARR3, reason="Zarr format 3 needs zarr-python 3")
def test_zarr_format_3_and_ome_0_5(tmp_path):
    data = RNG.random((6, 8, 10)).astype(np.float32)
    ome = {"version": "0.5", **_multiscales(list("zyx"), [{"type": "scale", "scale": [2.0, 1.0, 1.0]}])}
    path = _group(tmp_path / "v3.zarr", {"ome": ome}, {"s0": data, "s1": data}, zarr_format=3)
    assert (path / "zarr.json").is_file()
    volume, meta = read(path)
    np.testing.assert_array_equal(volume[0], data)
    assert meta.spacing == (2.0, 1.0, 1.0) and meta.extra["zarr_format"] == 3 and meta.extra["ome_version"] == "0.5"


def test_reading_copies_one_chunk_at_a_time():
    data = RNG.random((5, 9, 7)).astype(np.float32)
    regions: list[tuple[slice, ...]] = []

    class Chunked:
        shape, chunks, dtype, ndim = data.shape, (2, 4, 3), data.dtype, 3

        def __getitem__(self, region: tuple[slice, ...]) -> np.ndarray:
            assert all(s.stop - s.start <= c for s, c in zip(region, self.chunks, strict=True))
            assert all(s.start % c == 0 for s, c in zip(region, self.chunks, strict=True))
            regions.append(region)
            return data[region]

    out = _copy(Chunked(), [2, 0, 1], Path("fake.zarr"))  # axes reordered while copying
    np.testing.assert_array_equal(out, data.transpose(2, 0, 1))
    assert len(regions) == 3 * 3 * 3


def test_empty_corrupt_and_ambiguous_stores_name_themselves(tmp_path):
    (tmp_path / "empty.zarr").mkdir()
    with pytest.raises(CorruptFileError, match=r"empty\.zarr: holds no Zarr metadata"):
        read(tmp_path / "empty.zarr")
    (tmp_path / "bad.zarr").mkdir()
    (tmp_path / "bad.zarr" / ".zarray").write_text("{not json")
    with pytest.raises(CorruptFileError, match=r"bad\.zarr: cannot read Zarr"):
        read(tmp_path / "bad.zarr")
    pair = _group(tmp_path / "pair.zarr", {}, {"a": np.zeros((2, 2)), "b": np.zeros((2, 2))})
    with pytest.raises(ReadError, match=r"pair\.zarr: is a Zarr group of 2 arrays \['a', 'b'\]"):
        read(pair)
    hollow = _group(tmp_path / "hollow.zarr", {"multiscales": [{"version": "0.4", "datasets": []}]}, {})
    with pytest.raises(CorruptFileError, match=r"hollow\.zarr: multiscales has no 'datasets'"):
        read(hollow)


def test_missing_zarr_package_names_the_extra(tmp_path, monkeypatch):
    path = write_zarr(tmp_path / "v.zarr", np.zeros((2, 3, 4), np.uint8))
    monkeypatch.setitem(sys.modules, "zarr", None)  # import zarr now raises ImportError
    with pytest.raises(ReadError, match=r"v\.zarr: reading Zarr needs .*pip install 'seedlens\[zarr\]'"):
        read(path)
    with pytest.raises(ImportError, match=r"pip install 'seedlens\[zarr\]'"):
        write_zarr(tmp_path / "w.zarr", np.zeros((2, 3, 4), np.uint8))


def test_write_zarr_replaces_stores_only_and_validates(tmp_path):
    first = write_zarr(tmp_path / "v.zarr", np.zeros((2, 3, 4), np.uint8))
    write_zarr(first, np.ones((4, 3, 2), np.uint8))
    assert read(first)[0].shape == (1, 4, 3, 2)
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "keep.txt").write_text("mine")
    with pytest.raises(ConfigError, match="not a Zarr store"):
        write_zarr(tmp_path / "notes", np.zeros((2, 3, 4)))
    assert (tmp_path / "notes" / "keep.txt").read_text() == "mine"
    with pytest.raises(ShapeError, match=r"\(D, H, W\) or \(C, D, H, W\); got \(3, 4\)"):
        write_zarr(tmp_path / "x.zarr", np.zeros((3, 4)))
    with pytest.raises(ConfigError, match="chunks must be 3 positive integers"):
        write_zarr(tmp_path / "x.zarr", np.zeros((2, 3, 4)), chunks=(0, 4, 4))
    with pytest.raises(ConfigError, match="disagrees"):
        write_zarr(tmp_path / "x.zarr", np.zeros((2, 3, 4)), np.eye(4), spacing=(2.0, 1.0, 1.0))


def test_zarr_is_a_listed_format():
    assert "zarr" in list_formats()
