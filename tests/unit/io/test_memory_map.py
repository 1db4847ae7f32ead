"""Uncompressed NIfTI/Analyze files and TIFF stacks are read as views of a memory map; everything else whole."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import tifffile

from seedlens.data.loading import load_record
from seedlens.data.records import Record
from seedlens.io import read, write_nifti
from seedlens.types import Modality

NIB_DATA = Path(nib.__file__).parent / "tests" / "data"
RNG = np.random.default_rng(11)


def _memmap_of(array: np.ndarray) -> np.memmap | None:
    """The ``np.memmap`` of a file in ``array``'s ``.base`` chain, if any (a copy of a memmap has no file)."""
    base: object = array
    while isinstance(base, np.ndarray):
        if isinstance(base, np.memmap) and base.filename is not None:
            return base
        base = base.base
    return None


@pytest.fixture
def xyz() -> np.ndarray:
    return RNG.random((64, 64, 64)).astype(np.float32)  # file axes (x, y, z), 1 MiB


def test_uncompressed_nifti_is_a_view_of_the_file(tmp_path, xyz):
    path = tmp_path / "v.nii"
    nib.save(nib.Nifti1Image(xyz, np.diag([0.5, 0.5, 2.0, 1.0])), path)
    volume, meta = read(path)
    mapped = _memmap_of(volume)
    assert mapped is not None and Path(mapped.filename) == path.resolve()
    assert type(volume) is np.ndarray and volume.dtype == np.float32 and volume.shape == (1, 64, 64, 64)
    assert volume.dtype.byteorder == "=" and volume.flags.c_contiguous  # (x, y, z) in F order read as (z, y, x)
    assert meta.extra["memory_mapped"] is True and meta.spacing == (2.0, 0.5, 0.5)
    np.testing.assert_array_equal(volume[0, 10], xyz[:, :, 10].T)  # one axial plane, paged in on its own
    np.testing.assert_array_equal(volume[0], xyz.transpose(2, 1, 0))
    assert np.shares_memory(np.asarray(volume), volume)  # np.asarray does not copy the (non-contiguous) view


def test_writing_to_a_mapped_volume_leaves_the_file_alone(tmp_path, xyz):
    path = tmp_path / "v.nii"
    nib.save(nib.Nifti1Image(xyz, np.eye(4)), path)
    volume, _ = read(path)
    volume[0, 0, 0, 0] = 99.0  # copy-on-write: torch.from_numpy and in-place transforms need a writable array
    assert read(path)[0][0, 0, 0, 0] == xyz[0, 0, 0]


@pytest.mark.parametrize("opened", [".hdr", ".img"])
def test_analyze_pair_maps_its_img(tmp_path, xyz, opened):
    nib.save(nib.AnalyzeImage(xyz, np.eye(4)), tmp_path / "pair.img")
    volume, meta = read(tmp_path / f"pair{opened}")
    mapped = _memmap_of(volume)
    assert mapped is not None and Path(mapped.filename) == (tmp_path / "pair.img").resolve()
    assert meta.extra["format"] == "nifti" and meta.modality is Modality.VOLUME
    np.testing.assert_array_equal(volume[0], xyz.transpose(2, 1, 0))


def test_gzip_scaled_and_byte_swapped_nifti_are_read_whole(tmp_path, xyz):
    nib.save(nib.Nifti1Image(xyz, np.eye(4)), tmp_path / "v.nii.gz")
    scaled = nib.Nifti1Image((xyz * 100).astype(np.int16), np.eye(4))
    scaled.header.set_slope_inter(0.5, 1.0)
    nib.save(scaled, tmp_path / "s.nii")
    for name, expected in (("v.nii.gz", xyz), ("s.nii", (xyz * 100).astype(np.int16) * np.float32(0.5) + 1)):
        volume, meta = read(tmp_path / name)
        assert _memmap_of(volume) is None and meta.extra["memory_mapped"] is False
        np.testing.assert_allclose(volume[0], expected.transpose(2, 1, 0), rtol=1e-6)
    volume, meta = read(NIB_DATA / "anatomical.nii")  # big-endian on disk: byte-swapped into memory
    assert _memmap_of(volume) is None and volume.dtype.byteorder in ("=", "|")
    assert meta.extra["memory_mapped"] is False


def test_uncompressed_tiff_stack_is_a_view_of_the_file(tmp_path):
    stack = RNG.integers(0, 4000, (64, 64, 64), dtype=np.uint16)
    path = tmp_path / "s.tif"
    tifffile.imwrite(path, stack, photometric="minisblack")
    volume, meta = read(path)
    mapped = _memmap_of(volume)
    assert mapped is not None and Path(mapped.filename) == path.resolve()
    assert volume.shape == (1, 64, 64, 64) and meta.modality is Modality.VOLUME
    assert meta.extra["memory_mapped"] is True
    np.testing.assert_array_equal(volume[0, 5], stack[5])
    np.testing.assert_array_equal(volume[0], stack)
    cube, meta = read(path, modality="cube")
    assert _memmap_of(cube) is not None and cube.shape == (64, 64, 64) and meta.modality is Modality.CUBE


def test_rgb_tiff_stack_maps_with_channels_first(tmp_path):
    stack = RNG.integers(0, 255, (6, 8, 9, 3), dtype=np.uint8)  # pages, Y, X, samples
    tifffile.imwrite(tmp_path / "rgb.tif", stack, photometric="rgb")
    volume, _ = read(tmp_path / "rgb.tif")
    assert _memmap_of(volume) is not None and not volume.flags.c_contiguous
    np.testing.assert_array_equal(volume, np.moveaxis(stack, -1, 0))


def test_compressed_byte_swapped_and_single_page_tiffs_are_read_whole(tmp_path):
    stack = RNG.integers(0, 4000, (8, 16, 16), dtype=np.uint16)
    tifffile.imwrite(tmp_path / "z.tif", stack, photometric="minisblack", compression="zlib")
    tifffile.imwrite(tmp_path / "be.tif", stack, photometric="minisblack", byteorder=">")
    tifffile.imwrite(tmp_path / "page.tif", stack[0], photometric="minisblack")
    for name, expected in (("z.tif", stack[None]), ("be.tif", stack[None]), ("page.tif", stack[:1])):
        array, meta = read(tmp_path / name)
        assert _memmap_of(array) is None and meta.extra["memory_mapped"] is False
        assert array.dtype == np.uint16 and array.flags.c_contiguous
        np.testing.assert_array_equal(array, expected)


def test_load_record_keeps_the_map_and_checks_the_mask(tmp_path, xyz):
    sample = write_nifti(tmp_path / "v.nii", xyz.transpose(2, 1, 0), spacing=(1.0, 1.0, 1.0))
    mask = write_nifti(tmp_path / "m.nii", (xyz.transpose(2, 1, 0) > 0.9).astype(np.uint8))
    loaded = load_record(Record(path=sample, label="normal", split="test", is_anomalous=False, mask=mask))
    assert _memmap_of(loaded.array) is not None and loaded.mask is not None
    assert loaded.mask.shape == (1, 64, 64, 64) and loaded.mask.sum() == (xyz > 0.9).sum()
