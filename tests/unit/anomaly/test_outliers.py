import numpy as np
import pytest
import torch
from PIL import Image

from seedlens.anomaly import ArrayOutliers, FolderOutliers, OnlineReplacement
from seedlens.errors import ConfigError, CorruptFileError, DataSourceError, ShapeError

#: The old generators stay for one release beside OutlierSet + OutlierExposure; each warns (tested below).
pytestmark = pytest.mark.filterwarnings("ignore:.*Outliers is deprecated:DeprecationWarning")


def test_the_old_generators_name_their_replacement():
    with pytest.warns(DeprecationWarning, match=r"use OutlierSet.from_arrays\(array\)"):
        ArrayOutliers(np.zeros((1, 1, 4, 4)))


@pytest.fixture
def folder(tmp_path):
    rng = np.random.default_rng(0)
    (tmp_path / "sub").mkdir()
    Image.fromarray(rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)).save(tmp_path / "rgb.png")
    Image.fromarray(rng.integers(0, 256, (10, 10), dtype=np.uint8)).save(tmp_path / "sub" / "grey.JPG")
    Image.fromarray(np.full((12, 12), 65535, dtype=np.uint16)).save(tmp_path / "sub" / "white16.png")
    (tmp_path / "notes.txt").write_text("not an image")
    return tmp_path


def test_folder_outliers_load_resize_and_convert(folder):
    oe = FolderOutliers(folder, size=16, channels=3)
    assert len(oe) == 3  # recursive, case-insensitive extensions, .txt ignored
    for i in range(len(oe)):
        x = oe.load(i)
        assert x.shape == (3, 16, 16) and x.dtype == torch.float32
        assert x.min() >= 0.0 and x.max() <= 1.0
    white = oe.load([p.name for p in oe.files].index("white16.png"))
    assert torch.allclose(white, torch.ones_like(white))  # 16-bit scaled by 65535
    grey = FolderOutliers(folder, size=(np.int64(8), 12), channels=1).load(0)
    assert grey.shape == (1, 8, 12)
    for bad in (0, (8,), "16", 2.5):
        with pytest.raises(ConfigError, match="size"):
            FolderOutliers(folder, size=bad, channels=1)


def test_folder_outliers_as_generator(folder):
    oe = FolderOutliers(folder, size=16, channels=3)
    x = torch.zeros(3, 24, 20, dtype=torch.float64)
    out, mask = oe(x, torch.Generator().manual_seed(0))
    assert out.shape == x.shape and out.dtype == torch.float64  # follows the sample's shape
    assert mask.shape == (1, 24, 20) and mask.min() == 1
    with pytest.raises(ShapeError, match="got"):
        oe(torch.zeros(1, 16, 16))
    online = OnlineReplacement(oe, p=1.0)
    y, labels, masks = online(torch.zeros(4, 3, 16, 16), torch.Generator().manual_seed(0))
    assert labels.sum() == 4 and masks.min() == 1 and y.abs().sum() > 0


def test_empty_folder_error_names_folder_and_extensions(tmp_path):
    (tmp_path / "readme.txt").write_text("x")
    with pytest.raises(DataSourceError) as err:
        FolderOutliers(tmp_path, size=16, channels=1)
    assert str(tmp_path) in str(err.value) and ".png" in str(err.value) and ".jpg" in str(err.value)
    with pytest.raises(DataSourceError, match="does not exist"):
        FolderOutliers(tmp_path / "missing", size=16, channels=1)


def test_corrupt_file_is_named(tmp_path):
    (tmp_path / "broken.png").write_bytes(b"not a png")
    oe = FolderOutliers(tmp_path, size=8, channels=1)
    with pytest.raises(CorruptFileError, match=r"broken\.png"):
        oe(torch.zeros(1, 8, 8))


def test_volume_outliers_from_npy(tmp_path):
    np.save(tmp_path / "vol.npy", np.arange(6 * 6 * 6, dtype=np.float32).reshape(6, 6, 6))
    oe = FolderOutliers(tmp_path, size=8, channels=2, spatial_dims=3)
    out, mask = oe(torch.zeros(2, 8, 8, 8))
    assert out.shape == (2, 8, 8, 8) and mask.shape == (1, 8, 8, 8)
    assert out.min() >= 0 and out.max() <= 1 and out.max() > 0.9


def test_array_outliers_few_shot():
    outliers = np.stack([np.full((1, 8, 8), 0.25), np.full((1, 8, 8), 0.75)])
    oe = ArrayOutliers(outliers)
    assert len(oe) == 2
    seen = set()
    for seed in range(20):
        out, mask = oe(torch.zeros(3, 16, 16), torch.Generator().manual_seed(seed))
        assert out.shape == (3, 16, 16) and mask.shape == (1, 16, 16)
        seen.add(round(out.mean().item(), 2))
    assert seen == {0.25, 0.75}
    with pytest.raises(ShapeError, match="K >= 1"):
        ArrayOutliers(np.zeros((0, 1, 8, 8)))
    with pytest.raises(ShapeError, match="spatial axes"):
        oe(torch.zeros(1, 8, 8, 8))
