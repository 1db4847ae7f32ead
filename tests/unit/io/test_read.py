from __future__ import annotations

import numpy as np
import pytest

from seedlens.errors import CorruptFileError, ReadError, UnknownFormatError, UnknownNameError
from seedlens.io import list_formats, read, write_png


def test_list_formats():
    formats = list_formats()
    assert formats == sorted(formats)
    assert {"png", "jpeg", "tiff", "nifti", "dicom", "dicom-series", "npy", "npz", "envi", "mat"} <= set(formats)


def test_missing_file(tmp_path):
    with pytest.raises(ReadError, match="no such file") as info:
        read(tmp_path / "nope.nii")
    assert info.value.path == tmp_path / "nope.nii"


def test_unknown_suffix_lists_known_formats(tmp_path):
    (tmp_path / "notes.xyz").write_text("seed 1: fine")
    with pytest.raises(UnknownFormatError, match=r"notes\.xyz") as info:
        read(tmp_path / "notes.xyz")
    for name in list_formats():
        assert name in str(info.value)


def test_content_wins_over_misleading_suffix(tmp_path):
    image = np.arange(12, dtype=np.uint8).reshape(3, 4)
    png = write_png(tmp_path / "a.png", image)
    renamed = png.rename(tmp_path / "scan.bin")
    np.testing.assert_array_equal(read(renamed)[0], image[None])
    assert read(renamed)[1].extra["format"] == "png"


def test_str_path_and_modality_string(tmp_path):
    np.save(tmp_path / "c.npy", np.zeros((9, 3, 3)))
    array, meta = read(str(tmp_path / "c.npy"), modality="CUBE")
    assert array.shape == (9, 3, 3) and meta.source == tmp_path / "c.npy"


def test_unknown_modality_name(tmp_path):
    np.save(tmp_path / "c.npy", np.zeros((3, 3)))
    with pytest.raises(UnknownNameError, match="image, volume, cube"):
        read(tmp_path / "c.npy", modality="hyperspectral")


def test_no_raw_library_exception_escapes(tmp_path, monkeypatch):
    from seedlens.io import _numpy

    def buggy(path, hint):
        raise KeyError("surprise")

    monkeypatch.setattr(_numpy, "read_npy", buggy)
    np.save(tmp_path / "c.npy", np.zeros((3, 3)))
    with pytest.raises(CorruptFileError, match=r"c\.npy: cannot read as npy: KeyError"):
        read(tmp_path / "c.npy")


def test_empty_file_with_known_suffix_is_corrupt(tmp_path):
    for name in ("e.png", "e.tif", "e.nii", "e.npy", "e.mat", "e.dcm"):
        (tmp_path / name).write_bytes(b"")
        with pytest.raises(CorruptFileError, match=name.replace(".", r"\.")):
            read(tmp_path / name)
