from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
import scipy.io

from seedlens.errors import CorruptFileError, ReadError
from seedlens.io import read
from seedlens.types import Modality

RNG = np.random.default_rng(13)
SHARED = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "hsi-anomaly"


def write_v73(path: Path, variables: dict[str, np.ndarray]) -> Path:
    """A MATLAB v7.3 file: HDF5 with a 512-byte user block, arrays transposed as MATLAB stores them."""
    with h5py.File(path, "w", userblock_size=512) as file:
        for name, array in variables.items():
            dataset = file.create_dataset(name, data=np.asarray(array).T)
            kind = {"f": "double", "b": "logical", "u": "uint16"}[np.asarray(array).dtype.kind]
            dataset.attrs["MATLAB_class"] = np.bytes_(kind)
        file.create_group("#refs#")
    text = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created by seedlens tests HDF5 schema 1.00 ."
    with path.open("r+b") as stream:
        stream.write(text.ljust(116, b" ") + bytes(8) + b"\x00\x02IM")
    return path


def _hsi(h: int = 6, w: int = 5, bands: int = 8) -> np.ndarray:
    return RNG.random((h, w, bands))


@pytest.mark.parametrize("version", ["5", "7.3"])
def test_mat_cube_from_data_key(tmp_path, version):
    data = _hsi()
    variables = {"data": data, "map": RNG.random((6, 5)) > 0.9, "wavelengths": np.linspace(400, 900, 8)[None]}
    path = tmp_path / "scene.mat"
    if version == "5":
        scipy.io.savemat(path, variables)
    else:
        write_v73(path, variables)
    cube, meta = read(path)
    assert cube.shape == (8, 6, 5) and meta.modality is Modality.CUBE and cube.dtype == np.float64
    assert cube[3, 4, 2] == data[4, 2, 3]
    np.testing.assert_array_equal(cube, data.transpose(2, 0, 1))
    assert meta.wavelengths == pytest.approx(list(np.linspace(400, 900, 8)))
    assert set(meta.extra["keys"]) == {"data", "map", "wavelengths"}
    assert meta.extra["key"] == "data" and meta.extra["mat_version"] == version
    assert "map" not in meta.extra  # extras are listed, not loaded


@pytest.mark.parametrize("version", ["5", "7.3"])
def test_mat_largest_3d_array_without_data_key(tmp_path, version):
    small, big = _hsi(3, 3, 3), _hsi(6, 5, 9)
    variables = {"thumb": small, "scene": big, "gt": np.ones((6, 5))}
    path = tmp_path / "x.mat"
    scipy.io.savemat(path, variables) if version == "5" else write_v73(path, variables)
    cube, meta = read(path)
    assert meta.extra["key"] == "scene"
    np.testing.assert_array_equal(cube, big.transpose(2, 0, 1))


def test_mat_as_volume(tmp_path):
    data = _hsi(6, 5, 7)
    scipy.io.savemat(tmp_path / "v.mat", {"data": data})
    volume, meta = read(tmp_path / "v.mat", modality="volume")
    assert volume.shape == (1, 7, 6, 5) and meta.modality is Modality.VOLUME


@pytest.mark.parametrize(
    ("variables", "match"),
    [
        ({"a": np.ones((2, 2)), "b": np.ones(3)}, "no variable 'data' and no 3D numeric array"),
        ({"a": np.ones((2, 2, 2)), "b": np.zeros((2, 2, 2))}, "equally large"),
        ({"data": np.ones((4, 4, 3)), "wl": np.arange(5.0)}, "5 wavelengths"),
        ({"data": "text"}, "not a numeric array"),
    ],
)
def test_mat_errors(tmp_path, variables, match):
    scipy.io.savemat(tmp_path / "bad.mat", variables)
    with pytest.raises(ReadError, match=match) as info:
        read(tmp_path / "bad.mat")
    assert "bad.mat" in str(info.value)


@pytest.mark.parametrize("version", ["5", "7.3"])
def test_truncated_mat_is_corrupt(tmp_path, version):
    path = tmp_path / "cut.mat"
    variables = {"data": _hsi(30, 30, 20)}
    scipy.io.savemat(path, variables) if version == "5" else write_v73(path, variables)
    path.write_bytes(path.read_bytes()[:3000])
    with pytest.raises(CorruptFileError, match=r"cut\.mat"):
        read(path)


@pytest.mark.skipif(not SHARED.is_dir(), reason="real HSI anomaly files are not beside the repository")
@pytest.mark.parametrize("path", sorted(SHARED.glob("*.mat")) if SHARED.is_dir() else [], ids=lambda p: p.name)
def test_real_hsi_anomaly_files(path):
    cube, meta = read(path)
    (_, shape, _), *_ = [v for v in scipy.io.whosmat(path) if v[0] == "data"]
    assert cube.shape == (shape[2], shape[0], shape[1]) and meta.modality is Modality.CUBE
    assert "map" in meta.extra["keys"] and meta.extra["key"] == "data"
    reference = scipy.io.loadmat(path, variable_names=["data"], mat_dtype=True)["data"]
    np.testing.assert_array_equal(cube[:, :4, :4], reference[:4, :4].transpose(2, 0, 1))
