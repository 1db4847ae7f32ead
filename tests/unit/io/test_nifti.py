from __future__ import annotations

import gzip
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from seedlens.errors import ConfigError, CorruptFileError, ReadError, ShapeError
from seedlens.io import read, write_nifti
from seedlens.types import Modality

NIB_DATA = Path(nib.__file__).parent / "tests" / "data"
RNG = np.random.default_rng(3)


def _oblique_affine() -> np.ndarray:
    angle = np.radians(20)
    rotation = np.array([[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]])
    affine = np.eye(4)
    affine[:3, :3] = rotation @ np.diag([0.7, 0.9, 2.5])
    affine[0, 2] += 0.3  # a shear, as after gantry tilt: only the sform can hold it
    affine[:3, 3] = [-90.5, 12.25, 33.0]
    return affine


@pytest.mark.parametrize("suffix", [".nii", ".nii.gz"])
@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.float32])
def test_read_write_read_preserves_array_and_affine(tmp_path, suffix, dtype):
    data = (RNG.random((5, 6, 7)) * 100).astype(dtype)  # file axes (x, y, z)
    nib.save(nib.Nifti1Image(data, _oblique_affine()), tmp_path / f"in{suffix}")
    volume, meta = read(tmp_path / f"in{suffix}")
    assert volume.shape == (1, 7, 6, 5) and volume.dtype == dtype and meta.modality is Modality.VOLUME
    assert volume[0, 4, 2, 1] == data[1, 2, 4]  # (d, h, w) = (z, y, x)
    np.testing.assert_allclose(meta.affine, _oblique_affine(), atol=1e-5)
    norms = np.linalg.norm(_oblique_affine()[:3, :3], axis=0)
    assert meta.spacing == pytest.approx(tuple(norms[::-1]), rel=1e-5)  # zooms reordered to (D, H, W)

    out = write_nifti(tmp_path / f"out{suffix}", volume, meta.affine)
    again, meta2 = read(out)
    np.testing.assert_array_equal(again, volume)
    assert again.dtype == volume.dtype
    np.testing.assert_array_equal(meta2.affine, meta.affine)
    # the file written is an ordinary NIfTI: other tools see the original (x, y, z) data
    np.testing.assert_array_equal(np.asanyarray(nib.load(out).dataobj), data)


def test_real_anatomical_reads_and_round_trips(tmp_path):
    volume, meta = read(NIB_DATA / "anatomical.nii")
    assert volume.shape == (1, 25, 41, 33) and volume.dtype == np.int16  # big-endian on disk, native here
    assert volume.dtype.byteorder in ("=", "|")
    assert meta.spacing == (2.0, 2.0, 2.0)
    again, meta2 = read(write_nifti(tmp_path / "a.nii.gz", volume, meta.affine))
    np.testing.assert_array_equal(again, volume)
    np.testing.assert_allclose(meta2.affine, meta.affine, atol=1e-5)


def test_4d_nifti_is_a_clear_error():
    with pytest.raises(ReadError, match=r"4D NIfTI of shape \(128, 96, 24, 2\)") as info:
        read(NIB_DATA / "example4d.nii.gz")
    assert "example4d.nii.gz" in str(info.value)


def test_4d_with_trailing_singleton_reads(tmp_path):
    data = RNG.random((3, 4, 5, 1)).astype(np.float32)
    nib.save(nib.Nifti1Image(data, np.eye(4)), tmp_path / "t.nii")
    volume, _ = read(tmp_path / "t.nii")
    np.testing.assert_array_equal(volume[0], data[..., 0].transpose(2, 1, 0))


def test_scaled_integers_become_float32(tmp_path):
    image = nib.Nifti1Image(np.arange(24, dtype=np.int16).reshape(2, 3, 4), np.eye(4))
    image.header.set_slope_inter(0.5, -10)
    nib.save(image, tmp_path / "s.nii")
    volume, _ = read(tmp_path / "s.nii")
    assert volume.dtype == np.float32
    assert volume[0, 1, 0, 0] == pytest.approx(1 * 0.5 - 10)


def test_gzip_nifti_recognised_without_suffix(tmp_path):
    nib.save(nib.Nifti1Image(np.ones((2, 2, 2), np.uint8), np.eye(4)), tmp_path / "v.nii")
    (tmp_path / "v_no_suffix").write_bytes(gzip.compress((tmp_path / "v.nii").read_bytes()))
    volume, meta = read(tmp_path / "v_no_suffix")
    assert volume.shape == (1, 2, 2, 2) and meta.extra["format"] == "nifti"


@pytest.mark.parametrize("suffix", [".nii", ".nii.gz"])
def test_truncated_nifti_is_corrupt(tmp_path, suffix):
    path = tmp_path / f"cut{suffix}"
    nib.save(nib.Nifti1Image(RNG.random((20, 20, 20)).astype(np.float32), np.eye(4)), path)
    path.write_bytes(path.read_bytes()[:2000])
    with pytest.raises(CorruptFileError, match=f"cut{suffix}"):
        read(path)


def test_header_only_pair_is_a_read_error():
    with pytest.raises(ReadError, match=r"nifti1\.img"):
        read(NIB_DATA / "nifti1.hdr")


def test_write_with_spacing_only(tmp_path):
    volume = np.zeros((4, 5, 6), np.float32)
    _, meta = read(write_nifti(tmp_path / "s.nii.gz", volume, spacing=(3.0, 2.0, 0.5)))
    np.testing.assert_array_equal(np.diag(meta.affine), [0.5, 2.0, 3.0, 1.0])
    assert meta.spacing == (3.0, 2.0, 0.5)


def test_write_bool_and_channel_axis(tmp_path):
    mask = RNG.random((1, 3, 4, 5)) > 0.5
    back, _ = read(write_nifti(tmp_path / "m.nii", mask))
    assert back.dtype == np.uint8
    np.testing.assert_array_equal(back, mask.astype(np.uint8))


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"volume": np.zeros((2, 3, 4, 5))}, ShapeError, r"\(D, H, W\) or \(1, D, H, W\); got \(2, 3, 4, 5\)"),
        ({"affine": np.eye(3)}, ShapeError, "4×4"),
        ({"spacing": (1.0, 2.0)}, ConfigError, "3 positive numbers"),
        ({"affine": np.diag([1.0, 1.0, 1.0, 1.0]), "spacing": (2.0, 1.0, 1.0)}, ConfigError, "disagrees"),
        ({"volume": np.zeros((2, 3, 4), dtype="U1")}, ConfigError, "dtype"),
    ],
)
def test_write_nifti_rejects_bad_input(tmp_path, kwargs, error, match):
    args = {"volume": np.zeros((2, 3, 4), np.float32), **kwargs}
    with pytest.raises(error, match=match):
        write_nifti(tmp_path / "x.nii", **args)
    assert list(tmp_path.iterdir()) == []


def test_write_nifti_needs_nifti_suffix(tmp_path):
    with pytest.raises(ConfigError, match=r"\.nii"):
        write_nifti(tmp_path / "x.img", np.zeros((2, 2, 2)))


def test_write_nifti_is_atomic(tmp_path, monkeypatch):
    from seedlens.io import _nifti

    target = write_nifti(tmp_path / "keep.nii", np.ones((2, 2, 2), np.float32))
    before = target.read_bytes()

    def broken_save(path, volume, affine):
        path.write_bytes(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(_nifti, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        write_nifti(target, np.zeros((2, 2, 2), np.float32))
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.nii"]
