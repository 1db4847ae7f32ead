"""ManifestSource, FolderSource, open_source and the DataSource protocol."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from seedlens.data import DataSource, FolderSource, ManifestSource, Record, open_source
from seedlens.errors import ConfigError, DataSourceError

COVID_MANIFEST = Path(__file__).resolve().parents[4] / "shared" / "data" / "covid-ct" / "manifest.csv"


def _csv(tmp_path: Path, text: str, name: str = "manifest.csv") -> Path:
    path = tmp_path / name
    path.write_text(text.lstrip(), encoding="utf-8")
    return path


# ------------------------------------------------------------------------------------------------ manifest


def test_manifest_parses_rows_resolves_paths_and_keeps_extra_columns(tmp_path):
    abs_path = tmp_path / "elsewhere" / "x.png"
    csv = _csv(
        tmp_path,
        f"""
path,label,split,mask,object_mask,patient,subset
img/a.png,ok,train,,,p1,ucsd
img/b.png,cracked,test,masks/b.png,,p2,soares
{abs_path},ok,Val,,obj/c.png,p3,
""",
    )
    source = ManifestSource(csv, normal_class="ok")
    assert isinstance(source, DataSource)
    assert source.normal_class == "ok" and source.labels() == ["cracked", "ok"] and len(source) == 3
    a, b, c = source.records()
    assert a == Record(tmp_path / "img/a.png", "ok", "train", False, meta={"patient": "p1", "subset": "ucsd"})
    assert b.is_anomalous and b.mask == tmp_path / "masks/b.png" and b.object_mask is None
    assert c.path == abs_path and c.split == "val" and c.object_mask == tmp_path / "obj/c.png"
    assert c.meta == {"patient": "p3", "subset": ""}
    assert source.root == tmp_path
    assert [r.path.name for r in source.records("test")] == ["b.png"]
    assert [r.path.name for r in source.records(normal_only=True)] == ["a.png", "x.png"]
    with pytest.raises(ConfigError, match="split must be one of train, val, test or None; got 'training'"):
        source.records("training")


def test_manifest_missing_column_names_file_missing_and_found_columns(tmp_path):
    csv = _csv(tmp_path, "path,class,split\na.png,normal,train\n")
    with pytest.raises(DataSourceError) as err:
        ManifestSource(csv)
    message = str(err.value)
    assert str(csv) in message and "missing required column(s) label" in message
    assert "found columns: path, class, split" in message


def test_manifest_bad_split_names_the_line_and_value(tmp_path):
    csv = _csv(tmp_path, "path,label,split\na.png,normal,train\nb.png,normal,train\nc.png,bad,validation\n")
    with pytest.raises(DataSourceError, match=r"line 4: split must be one of train, val, test; got 'validation'"):
        ManifestSource(csv)


def test_manifest_normal_class_errors_list_the_labels(tmp_path):
    csv = _csv(tmp_path, "path,label,split\na.png,covid,train\nb.png,noncovid,test\n")
    with pytest.raises(DataSourceError, match=r"'normal'.*labels found: 'covid', 'noncovid'.*--normal-class"):
        ManifestSource(csv)
    with pytest.raises(DataSourceError, match=r"normal class 'healthy'.*labels found: 'covid', 'noncovid'"):
        ManifestSource(csv, normal_class="healthy")
    assert ManifestSource(csv, normal_class="noncovid").records("train")[0].is_anomalous


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        ("", "manifest is empty"),
        ("path,label,split\n", "no rows"),
        ("path,label,split,path\na,b,train,c\n", "duplicate column"),
        ("path,label,split\n,normal,train\n", "line 2: empty 'path'"),
        ("path,label,split\na.png,normal\n", "line 2 has 2 cells"),
    ],
)
def test_manifest_malformed_files(tmp_path, text, pattern):
    with pytest.raises(DataSourceError, match=pattern):
        ManifestSource(_csv(tmp_path, text))


def test_manifest_does_not_touch_files_until_validate(tmp_path, write_sample):
    write_sample(tmp_path / "a.png", np.zeros((4, 4), np.uint8))
    csv = _csv(tmp_path, "path,label,split,mask\na.png,normal,train,\nb.png,normal,test,m/b.png\n")
    source = ManifestSource(csv)  # b.png and its mask are missing: no error yet
    assert source.validate() == [tmp_path / "b.png", tmp_path / "m/b.png"]
    with pytest.raises(DataSourceError, match="manifest not found"):
        ManifestSource(tmp_path / "nope.csv")


def test_manifest_skips_blank_lines_and_reads_a_bom(tmp_path):
    path = tmp_path / "m.csv"
    path.write_bytes("\ufeffpath,label,split\r\na.png,normal,train\r\n\r\n".encode())
    assert len(ManifestSource(path)) == 1


@pytest.mark.skipif(not COVID_MANIFEST.is_file(), reason="shared covid-ct data not present")
def test_real_covid_manifest_parses_as_is():
    source = ManifestSource(COVID_MANIFEST, normal_class="noncovid")
    assert source.labels() == ["covid", "noncovid"]
    train = source.records("train", normal_only=True)
    assert train and all(r.label == "noncovid" and not r.is_anomalous for r in train)
    assert {r.split for r in source.records()} == {"train", "val", "test"}
    first = source.records()[0]
    assert {"subset", "patient", "source_name", "width", "height"} <= set(first.meta)
    assert first.path.is_file()


# ------------------------------------------------------------------------------------------------ folders


@pytest.fixture
def dataset(tmp_path, write_sample):
    img = np.zeros((8, 8), np.uint8)
    write_sample(tmp_path / "train/normal/n1.png", img)
    write_sample(tmp_path / "train/normal/n2.png", img)
    (tmp_path / "train/normal/notes.txt").write_text("not a sample")  # unknown ending: skipped
    write_sample(tmp_path / "val/normal/v1.png", img)
    write_sample(tmp_path / "test/normal/t1.png", img)
    write_sample(tmp_path / "test/crack/c1.png", img)
    write_sample(tmp_path / "test/crack/c2.npy", np.zeros((1, 8, 8)))
    write_sample(tmp_path / "masks/crack/c1.png", img)  # same stem, any ending
    write_sample(tmp_path / "masks/crack/c2.png", img)
    write_sample(tmp_path / "object_masks/crack/c1.npy", np.ones((1, 8, 8)))
    (tmp_path / "test/crack/.hidden.png").write_bytes(b"")
    return tmp_path


def test_folder_source_lists_splits_labels_and_masks(dataset):
    source = FolderSource(dataset)
    assert isinstance(source, DataSource)
    assert source.labels() == ["crack", "normal"] and source.normal_class == "normal" and source.root == dataset
    assert [r.path.name for r in source.records("train")] == ["n1.png", "n2.png"]
    assert [r.path.name for r in source.records("val")] == ["v1.png"]
    test = {r.path.name: r for r in source.records("test")}
    assert set(test) == {"c1.png", "c2.npy", "t1.png"}
    assert test["c1.png"].is_anomalous and test["c1.png"].mask == dataset / "masks/crack/c1.png"
    assert test["c1.png"].object_mask == dataset / "object_masks/crack/c1.npy"
    assert test["c2.npy"].mask == dataset / "masks/crack/c2.png" and test["c2.npy"].object_mask is None
    assert not test["t1.png"].is_anomalous and test["t1.png"].mask is None
    assert len(source.records(normal_only=True)) == 4


def test_folder_source_errors(tmp_path, write_sample):
    with pytest.raises(DataSourceError, match="dataset folder not found"):
        FolderSource(tmp_path / "nope")
    write_sample(tmp_path / "test/normal/a.png", np.zeros((4, 4), np.uint8))
    with pytest.raises(DataSourceError, match=r"no train/ folder.*folders found: test/"):
        FolderSource(tmp_path)
    write_sample(tmp_path / "train/good/a.png", np.zeros((4, 4), np.uint8))
    with pytest.raises(DataSourceError, match=r"no normal/ folder.*label folders found: good/.*--normal-class"):
        FolderSource(tmp_path)
    assert len(FolderSource(tmp_path, normal_class="good").records("train")) == 1
    (tmp_path / "train/empty").mkdir()
    with pytest.raises(DataSourceError, match="no sample files"):
        FolderSource(tmp_path, normal_class="empty")


def test_folder_source_rejects_two_masks_with_one_stem(dataset, write_sample):
    write_sample(dataset / "masks/crack/c1.npy", np.zeros((1, 8, 8)))
    with pytest.raises(DataSourceError, match="two masks for sample 'c1'"):
        FolderSource(dataset)


def test_folder_source_stems_with_double_endings(tmp_path, write_sample):
    write_sample(tmp_path / "train/normal/a.png", np.zeros((4, 4), np.uint8))
    (tmp_path / "test/bad").mkdir(parents=True)
    (tmp_path / "test/bad/ct.01.nii.gz").write_bytes(b"x")
    (tmp_path / "masks/bad").mkdir(parents=True)
    (tmp_path / "masks/bad/ct.01.nii.gz").write_bytes(b"x")
    (record,) = FolderSource(tmp_path).records("test")
    assert record.mask == tmp_path / "masks/bad/ct.01.nii.gz"


def test_open_source_dispatch(dataset, tmp_path):
    assert isinstance(open_source(dataset), FolderSource)
    csv = _csv(tmp_path, "path,label,split\na.png,ok,train\n", name="m.csv")
    source = open_source(csv, normal_class="ok")
    assert isinstance(source, ManifestSource) and source.normal_class == "ok"
    with pytest.raises(DataSourceError, match="no such file or folder"):
        open_source(tmp_path / "missing")
    other = tmp_path / "data.json"
    other.write_text("{}")
    with pytest.raises(DataSourceError, match=r"expected a \.csv manifest or a dataset folder; got a \.json file"):
        open_source(other)
