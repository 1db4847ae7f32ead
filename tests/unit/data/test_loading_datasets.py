"""load_record, ArrayDataset and RecordDataset."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from seedlens.data import ArrayDataset, FolderSource, Preprocessor, Record, RecordDataset, load_record
from seedlens.errors import ReadError, ShapeError
from seedlens.types import Modality


@pytest.fixture
def folder(tmp_path, write_sample):
    rng = np.random.default_rng(0)
    for i in range(3):
        write_sample(tmp_path / f"train/normal/n{i}.png", rng.integers(0, 255, (12, 16), dtype=np.uint8))
    write_sample(tmp_path / "test/normal/t0.png", rng.integers(0, 255, (12, 16), dtype=np.uint8))
    write_sample(tmp_path / "test/spot/s0.png", rng.integers(0, 255, (12, 16, 3), dtype=np.uint8))
    mask = np.zeros((12, 16), np.uint8)
    mask[4:8, 4:8] = 255
    write_sample(tmp_path / "masks/spot/s0.png", mask)
    obj = np.zeros((12, 16), np.uint8)
    obj[2:10, 2:14] = 1
    write_sample(tmp_path / "object_masks/spot/s0.png", obj)
    return tmp_path


# ------------------------------------------------------------------------------------------------ load_record


def test_load_record_reads_sample_and_binarised_masks(folder, fake_reader):
    anomalous = next(r for r in FolderSource(folder).records("test") if r.is_anomalous)
    sample = load_record(anomalous, reader=fake_reader)
    assert sample.array.shape == (3, 12, 16) and sample.meta.modality is Modality.IMAGE
    assert sample.mask is not None and sample.mask.shape == (1, 12, 16) and sample.mask.dtype == bool
    assert sample.mask.sum() == 16 and sample.mask[0, 4:8, 4:8].all()
    assert sample.object_mask is not None and sample.object_mask.sum() == 8 * 12
    assert sample.record is anomalous


def test_load_record_without_masks_and_volumes(tmp_path, write_sample, fake_reader):
    write_sample(tmp_path / "v.npy", np.zeros((1, 4, 6, 6), np.float32))
    write_sample(tmp_path / "vm.npy", np.ones((1, 4, 6, 6), np.uint8))
    sample = load_record(Record(tmp_path / "v.npy", "ok", "test", False), reader=fake_reader)
    assert sample.mask is None and sample.object_mask is None
    vol = load_record(Record(tmp_path / "v.npy", "bad", "test", True, mask=tmp_path / "vm.npy"), reader=fake_reader)
    assert vol.mask is not None and vol.mask.shape == (1, 4, 6, 6)


def test_load_record_mask_shape_mismatch_names_both_files_and_shapes(tmp_path, write_sample, fake_reader):
    write_sample(tmp_path / "a.png", np.zeros((12, 16), np.uint8))
    write_sample(tmp_path / "a_mask.png", np.zeros((12, 15), np.uint8))
    record = Record(tmp_path / "a.png", "bad", "test", True, mask=tmp_path / "a_mask.png")
    with pytest.raises(ShapeError) as err:
        load_record(record, reader=fake_reader)
    message = str(err.value)
    assert "a_mask.png" in message and "a.png" in message and "(12, 15)" in message and "(12, 16)" in message


def test_load_record_missing_file_is_a_read_error_naming_it(tmp_path, fake_reader):
    with pytest.raises(ReadError, match=r"gone\.png"):
        load_record(Record(tmp_path / "gone.png", "ok", "train", False), reader=fake_reader)


def test_load_record_with_the_real_reader(folder):
    anomalous = next(r for r in FolderSource(folder).records("test") if r.is_anomalous)
    sample = load_record(anomalous)
    assert sample.array.shape == (3, 12, 16)
    assert sample.mask is not None and sample.mask.sum() == 16


# ------------------------------------------------------------------------------------------------ datasets


def test_array_dataset_items_and_collate():
    arrays = np.random.default_rng(0).random((4, 1, 8, 8)).astype(np.float32)
    masks = [None, np.ones((8, 8)), None, np.zeros((1, 8, 8))]
    ds = ArrayDataset(arrays, labels=[0, 1, 0, 0], masks=masks)
    item = ds[1]
    assert set(item) == {"x", "label", "mask", "index"}
    assert item["x"].dtype == torch.float32 and tuple(item["x"].shape) == (1, 8, 8)
    assert item["label"] == 1.0 and item["index"] == 1 and float(item["mask"].sum()) == 64
    assert float(ds[0]["mask"].sum()) == 0 and tuple(ds[0]["mask"].shape) == (1, 8, 8)
    batch = next(iter(DataLoader(ds, batch_size=4)))
    assert tuple(batch["x"].shape) == (4, 1, 8, 8) and batch["label"].tolist() == [0.0, 1.0, 0.0, 0.0]
    assert tuple(batch["mask"].shape) == (4, 1, 8, 8)
    with pytest.raises(ShapeError, match="one value per sample"):
        ArrayDataset(arrays, labels=[0, 1])


def test_array_dataset_with_preprocessor_resizes_masks_nearest():
    arrays = [np.random.default_rng(i).random((1, 10, 10)) for i in range(2)]
    mask = np.zeros((10, 10), bool)
    mask[:5] = True
    ds = ArrayDataset(arrays, masks=[mask, None], preprocessor=Preprocessor(size=(20, 20), channels=3))
    item = ds[0]
    assert tuple(item["x"].shape) == (3, 20, 20) and tuple(item["mask"].shape) == (1, 20, 20)
    assert set(item["mask"].unique().tolist()) == {0.0, 1.0} and float(item["mask"].sum()) == 200


def test_record_dataset_preprocesses_caches_and_resizes_masks(folder, fake_reader):
    source = FolderSource(folder)
    calls = []

    def counting_reader(path, *, modality=None):
        calls.append(path.name)
        return fake_reader(path, modality)

    pre = Preprocessor(size=(6, 8), channels=1, intensity="minmax")
    pre.fit(load_record(r, reader=fake_reader).array for r in source.records("train"))
    ds = RecordDataset(source.records("test"), pre, reader=counting_reader)
    items = [ds[i] for i in range(len(ds))]
    assert [tuple(it["x"].shape) for it in items] == [(1, 6, 8)] * 2
    labels = {ds.records[it["index"]].label: it for it in items}
    spot = labels["spot"]
    assert spot["label"] == 1.0 and tuple(spot["mask"].shape) == (1, 6, 8)
    assert float(spot["mask"].sum()) == 4  # a 4x4 square at half size
    assert labels["normal"]["label"] == 0.0 and float(labels["normal"]["mask"].sum()) == 0
    n_reads = len(calls)
    spot["x"].add_(100.0)  # items are copies: changing one must not change the cache
    again = ds[spot["index"]]
    assert len(calls) == n_reads and torch.equal(again["x"] + 100.0, spot["x"])
    uncached = RecordDataset(source.records("test"), pre, cache=False, reader=counting_reader)
    uncached[0]
    uncached[0]
    assert len(calls) == n_reads + 2
    assert tuple(next(iter(DataLoader(ds, batch_size=2)))["x"].shape) == (2, 1, 6, 8)
    with pytest.raises(IndexError):
        ds[5]
