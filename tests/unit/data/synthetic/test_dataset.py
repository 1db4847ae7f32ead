import csv
from collections import Counter
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from PIL import Image

from seedlens.data.synthetic import CUBE_DEFECT_TYPES, DEFECT_TYPES, MANIFEST_COLUMNS, write_seed_dataset
from seedlens.errors import ConfigError, UnknownNameError

COUNTS = {"n_train": 3, "n_val_normal": 1, "n_val_anomalous": 2, "n_test_normal": 2, "n_test_anomalous": 5}


def _rows(manifest: Path):
    with manifest.open(newline="") as fh:
        reader = csv.DictReader(fh)
        assert tuple(reader.fieldnames or ()) == MANIFEST_COLUMNS
        return list(reader)


def _check_layout(rows, defect_types):
    counts = Counter((r["split"], r["label"]) for r in rows)
    assert counts == {
        ("train", "normal"): 3,
        ("val", "normal"): 1,
        ("val", "abnormal"): 2,
        ("test", "normal"): 2,
        ("test", "abnormal"): 5,
    }
    for r in rows:
        if r["split"] == "train":
            assert r["mask"] == r["object_mask"] == r["defect"] == ""
        else:
            assert r["mask"] and r["object_mask"]
        assert (r["label"] == "abnormal") == (r["defect"] != "")
        assert r["defect"] in ("", *defect_types)
    test_defects = Counter(r["defect"] for r in rows if r["split"] == "test" and r["defect"])
    assert max(test_defects.values()) - min(test_defects.values()) <= 1  # spread evenly
    assert len(test_defects) == min(5, len(defect_types))


def test_volume_dataset(tmp_path):
    manifest = write_seed_dataset(tmp_path / "ct", "volume", size=24, seed=1, **COUNTS)
    assert manifest == tmp_path / "ct" / "manifest.csv"
    rows = _rows(manifest)
    _check_layout(rows, DEFECT_TYPES)
    for r in rows:
        img = nib.load(manifest.parent / r["path"])
        assert img.shape == (24, 24, 24)
        np.testing.assert_allclose(np.diag(img.affine)[:3], 2.6 / 24, rtol=1e-6)
        if r["mask"]:
            mask = np.asarray(nib.load(manifest.parent / r["mask"]).dataobj)
            seed = np.asarray(nib.load(manifest.parent / r["object_mask"]).dataobj)
            assert mask.shape == seed.shape == (24, 24, 24)
            assert set(np.unique(mask)) <= {0, 1}
            assert (mask.sum() > 0) == (r["label"] == "abnormal")
            assert seed.sum() > 0 and not (mask & ~seed).any()


def test_image_dataset(tmp_path):
    manifest = write_seed_dataset(tmp_path, "image", size=32, **COUNTS)
    rows = _rows(manifest)
    _check_layout(rows, DEFECT_TYPES)
    for r in rows:
        with Image.open(tmp_path / r["path"]) as im:
            a = np.asarray(im)
        assert a.shape == (32, 32) and a.dtype == np.uint16
        if r["mask"]:
            with Image.open(tmp_path / r["mask"]) as im:
                m = np.asarray(im)
            assert m.shape == (32, 32) and set(np.unique(m)) <= {0, 255}
            assert (m.max() == 255) == (r["label"] == "abnormal")


def test_cube_dataset(tmp_path):
    manifest = write_seed_dataset(tmp_path, "cube", size=24, bands=16, **COUNTS)
    rows = _rows(manifest)
    _check_layout(rows, CUBE_DEFECT_TYPES)
    header = (tmp_path / rows[0]["path"]).read_text()
    fields = dict(line.split(" = ", 1) for line in header.splitlines()[1:])
    assert header.startswith("ENVI")
    assert (fields["samples"], fields["lines"], fields["bands"]) == ("24", "24", "16")
    assert (fields["interleave"], fields["data type"], fields["byte order"]) == ("bsq", "4", "0")
    waves = [float(w) for w in fields["wavelength"].strip("{}").split(",")]
    assert len(waves) == 16 and waves[0] == 400 and waves[-1] == 1000
    data = np.fromfile((tmp_path / rows[0]["path"]).with_suffix(".img"), dtype="<f4").reshape(16, 24, 24)
    assert data.min() >= 0 and data.max() <= 1


def test_dataset_is_reproducible(tmp_path):
    a = write_seed_dataset(tmp_path / "a", "image", 2, 0, 0, 1, 1, size=24, seed=3)
    b = write_seed_dataset(tmp_path / "b", "image", 2, 0, 0, 1, 1, size=24, seed=3)
    for r in _rows(a):
        assert (a.parent / r["path"]).read_bytes() == (b.parent / r["path"]).read_bytes()


def test_dataset_errors(tmp_path):
    write_seed_dataset(tmp_path, "cube", 1, 0, 0, 0, 0, size=16, bands=8)
    with pytest.raises(ConfigError, match="already exists"):
        write_seed_dataset(tmp_path, "cube", 1, 0, 0, 0, 0, size=16, bands=8)
    write_seed_dataset(tmp_path, "cube", 1, 0, 0, 0, 0, size=16, bands=8, overwrite=True)
    with pytest.raises(ConfigError, match="n_test_anomalous"):
        write_seed_dataset(tmp_path / "x", "volume", n_test_anomalous=-1)
    with pytest.raises(ConfigError, match="modality"):
        write_seed_dataset(tmp_path / "x", "table")
    with pytest.raises(UnknownNameError, match="modality"):
        write_seed_dataset(tmp_path / "x", "audio")
