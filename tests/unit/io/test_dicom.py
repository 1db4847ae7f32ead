from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from pydicom.data import get_testdata_file

from seedlens.errors import CorruptFileError, DicomSeriesError, ReadError, UnknownFormatError
from seedlens.io import read
from seedlens.types import Modality

ROWS, COLS = 6, 5
SPACING = (0.5, 0.8)  # (between rows, between columns)


def _rotation(axis: tuple[float, float, float], degrees: float) -> np.ndarray:
    a = np.asarray(axis, float) / np.linalg.norm(axis)
    k = np.array([[0, -a[2], a[1]], [a[2], 0, -a[0]], [-a[1], a[0], 0]])
    t = math.radians(degrees)
    return np.eye(3) + math.sin(t) * k + (1 - math.cos(t)) * k @ k


def _stored(k: int) -> np.ndarray:
    """Slice k's stored values: 100 k plus a pattern that tells rows from columns."""
    return 100 * k + np.arange(ROWS * COLS, dtype=np.int16).reshape(ROWS, COLS)


def _series(folder: Path, ct_slice, rotation: np.ndarray, n: int = 5, step: float = 2.5, seed: int = 0):
    """Write n slices along the rotation's third column; file names and InstanceNumber disagree with space."""
    folder.mkdir(exist_ok=True)
    rng = np.random.default_rng(seed)
    origin = np.array([-20.0, 15.0, 40.0])
    names = rng.permutation(n)
    instances = rng.permutation(n) + 1
    positions = [origin + k * step * rotation[:, 2] for k in range(n)]
    orientation = (*rotation[:, 0], *rotation[:, 1])
    for k in range(n):
        ct_slice(
            folder / f"IM{names[k]:04d}.dcm",
            _stored(k),
            position=positions[k],
            orientation=orientation,
            pixel_spacing=SPACING,
            instance=int(instances[k]),
            slope=2.0,
            intercept=-1024.0,
        )
    return positions


@pytest.mark.parametrize("rotation", [np.eye(3), _rotation((1.0, 2.0, 0.5), 35.0)], ids=["axial", "oblique"])
def test_series_sorted_by_position_with_affine(tmp_path, ct_slice, rotation):
    positions = _series(tmp_path / "series", ct_slice, rotation)
    volume, meta = read(tmp_path / "series")
    assert volume.shape == (1, 5, ROWS, COLS) and volume.dtype == np.float32
    assert meta.modality is Modality.VOLUME
    for k in range(5):  # HU = 2 * stored - 1024, slices in spatial order
        np.testing.assert_array_equal(volume[0, k], 2.0 * _stored(k) - 1024.0)
        np.testing.assert_allclose(meta.affine @ [0, 0, k, 1], [*positions[k], 1], atol=1e-6)
    w, h = 3, 4  # a pixel off the corner: columns run along the row cosines, rows along the column cosines
    expected = positions[0] + w * SPACING[1] * rotation[:, 0] + h * SPACING[0] * rotation[:, 1]
    np.testing.assert_allclose(meta.affine @ [w, h, 0, 1], [*expected, 1], atol=1e-6)
    assert meta.spacing == pytest.approx((2.5, 0.5, 0.8))
    assert meta.extra["files"] != sorted(meta.extra["files"])  # order came from positions, not names


def test_series_ignores_non_dicom_files(tmp_path, ct_slice, dicomdir_like):
    folder = tmp_path / "series"
    _series(folder, ct_slice, np.eye(3), n=3)
    (folder / "notes.txt").write_text("scanned on monday")
    (folder / ".DS_Store").write_bytes(b"\0\1\2")
    dicomdir_like(folder / "DICOMDIR")
    volume, meta = read(folder)
    assert volume.shape == (1, 3, ROWS, COLS)
    assert set(meta.extra["skipped"]) == {"notes.txt", "DICOMDIR"}


def test_mixed_series_error_names_both(tmp_path, ct_slice):
    folder = tmp_path / "mixed"
    folder.mkdir()
    for k, uid in enumerate(["1.2.3.4.1", "1.2.3.4.1", "1.2.3.4.2"]):
        ct_slice(folder / f"{k}.dcm", _stored(k), position=(0, 0, 2.5 * k), series_uid=uid)
    with pytest.raises(DicomSeriesError, match="mixes 2 DICOM series") as info:
        read(folder)
    assert "1.2.3.4.1" in str(info.value) and "1.2.3.4.2" in str(info.value)
    assert info.value.path == folder


def test_uneven_spacing_error_lists_gaps(tmp_path, ct_slice):
    folder = tmp_path / "gap"
    folder.mkdir()
    for k, z in enumerate([0.0, 2.5, 5.0, 10.0, 12.5]):  # a slice is missing at 7.5
        ct_slice(folder / f"{k}.dcm", _stored(k), position=(0, 0, z))
    with pytest.raises(DicomSeriesError, match="uneven slice spacing") as info:
        read(folder)
    assert "2.5 mm ×3" in str(info.value) and "5 mm ×1" in str(info.value)


def test_small_jitter_is_tolerated(tmp_path, ct_slice):
    folder = tmp_path / "jitter"
    folder.mkdir()
    for k, z in enumerate([0.0, 2.5, 5.004, 7.5]):
        ct_slice(folder / f"{k}.dcm", _stored(k), position=(0, 0, z))
    volume, meta = read(folder)
    assert volume.shape[1] == 4 and meta.spacing[0] == pytest.approx(2.5)


def test_duplicate_positions_error(tmp_path, ct_slice):
    folder = tmp_path / "dup"
    folder.mkdir()
    for k, z in enumerate([0.0, 2.5, 2.5, 5.0]):
        ct_slice(folder / f"{k}.dcm", _stored(k), position=(0, 0, z))
    with pytest.raises(DicomSeriesError, match="duplicate slice positions"):
        read(folder)


def test_orientation_mismatch_error(tmp_path, ct_slice):
    folder = tmp_path / "tilt"
    folder.mkdir()
    ct_slice(folder / "a.dcm", _stored(0), position=(0, 0, 0))
    ct_slice(folder / "b.dcm", _stored(1), position=(0, 0, 2.5), orientation=(1, 0, 0, 0, 0, 1))
    with pytest.raises(DicomSeriesError, match="orientation"):
        read(folder)


def test_slices_off_one_line_error(tmp_path, ct_slice):
    folder = tmp_path / "zigzag"
    folder.mkdir()
    for k, (x, z) in enumerate([(0.0, 0.0), (3.0, 2.5), (0.0, 5.0)]):
        ct_slice(folder / f"{k}.dcm", _stored(k), position=(x, 0, z))
    with pytest.raises(DicomSeriesError, match="do not lie on one line"):
        read(folder)


def test_series_with_garbage_slice_names_the_file(tmp_path, ct_slice):
    folder = tmp_path / "broken"
    _series(folder, ct_slice, np.eye(3), n=3)
    (folder / "zz_broken.dcm").write_bytes(b"not a dicom file at all" * 3)
    with pytest.raises(CorruptFileError, match=r"zz_broken\.dcm"):
        read(folder)


def test_empty_folder_is_unknown_format(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.txt").write_text("nothing here")
    with pytest.raises(UnknownFormatError, match="no DICOM image files"):
        read(tmp_path / "empty")


def test_real_ct_small_hounsfield_range():
    path = Path(get_testdata_file("CT_small.dcm"))
    image, meta = read(path)
    assert image.shape == (1, 128, 128) and image.dtype == np.float32
    assert meta.modality is Modality.IMAGE
    assert -1100 <= image.min() < -500 and 500 < image.max() <= 3100  # air/soft tissue/bone in HU
    assert meta.spacing == pytest.approx((0.661468, 0.661468))


def test_single_file_as_volume_has_affine():
    path = Path(get_testdata_file("CT_small.dcm"))
    volume, meta = read(path, modality="volume")
    assert volume.shape == (1, 1, 128, 128)
    np.testing.assert_allclose(meta.affine[:3, 3], [-158.135803, -179.035797, -75.699997])
    np.testing.assert_allclose(np.diag(meta.affine)[:2], [0.661468, 0.661468])


def test_single_file_rejects_cube_hint_as_volume(tmp_path, multiframe):
    path = multiframe(tmp_path / "mf.dcm", np.zeros((3, 4, 4), np.int16), None)
    with pytest.raises(ReadError, match="cannot be read as modality 'image'"):
        read(path, modality="image")


def test_multiframe_sorted_by_per_frame_positions(tmp_path, multiframe):
    frames = np.stack([np.full((4, 5), 10 * k, np.int16) for k in range(3)])
    path = multiframe(tmp_path / "enhanced.dcm", frames, positions=[(0, 0, 5.0), (0, 0, 0.0), (0, 0, 2.5)])
    volume, meta = read(path)
    assert volume.shape == (1, 3, 4, 5)
    np.testing.assert_array_equal(volume[0, :, 0, 0], [10 - 1000, 20 - 1000, 0 - 1000])
    np.testing.assert_allclose(meta.affine[:3, 3], [0, 0, 0])
    assert meta.spacing == pytest.approx((2.5, 0.5, 0.5))


def test_multiframe_without_geometry_keeps_stored_order(tmp_path, multiframe):
    frames = np.arange(2 * 3 * 4, dtype=np.int16).reshape(2, 3, 4)
    volume, meta = read(multiframe(tmp_path / "plain.dcm", frames, None))
    np.testing.assert_array_equal(volume[0], frames.astype(np.float32))
    assert meta.affine is None


def test_garbage_dcm_is_corrupt(tmp_path):
    path = tmp_path / "garbage.dcm"
    path.write_bytes(np.random.default_rng(0).bytes(300))
    with pytest.raises(CorruptFileError, match=r"garbage\.dcm"):
        read(path)


def test_truncated_pixel_data_is_corrupt(tmp_path, ct_slice):
    path = ct_slice(tmp_path / "cut.dcm", _stored(0), position=(0, 0, 0))
    path.write_bytes(path.read_bytes()[:-20])
    with pytest.raises(CorruptFileError, match=r"cut\.dcm"):
        read(path)


def test_dicom_without_pixels_is_a_read_error(tmp_path, dicomdir_like):
    path = dicomdir_like(tmp_path / "dir.dcm")
    with pytest.raises(ReadError, match="no pixel data"):
        read(path)
