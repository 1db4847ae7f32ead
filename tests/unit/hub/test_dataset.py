"""HubSource: records with readable cached files, labels, splits, modalities, data hash."""

from __future__ import annotations

import numpy as np
import pytest

from seedlens.data.sources import DataSource
from seedlens.errors import DataSourceError
from seedlens.hub import HubSource
from seedlens.hub.schemas import SampleIn
from seedlens.hub.testing import write_dicom_series, write_envi
from seedlens.io import read


def test_records_point_at_readable_cached_files(loaded, seeds, tmp_path):
    loaded.split("lot", "60,20,20")
    source = HubSource(loaded, where='species = "wheat"', normal_class="normal", cache_dir=tmp_path / "cache")
    assert isinstance(source, DataSource)
    records = source.records()
    assert [r.meta["sample_id"] for r in records] == ["s000", "s001", "s002", "s003"]
    for record in records:
        assert record.path.parent == source.root and record.path.suffix == ".npy"
        array, _ = read(record.path)
        np.testing.assert_array_equal(array, seeds["arrays"][record.meta["sample_id"]])
        assert record.is_anomalous == (record.label != "normal")
        assert record.split in ("train", "val", "test") and record.meta["species"] == "wheat"
    assert [r.label for r in records] == ["abnormal", "normal", "normal", "abnormal"]
    assert source.labels() == ["abnormal", "normal"]
    normals = source.records(normal_only=True)
    assert {r.meta["sample_id"] for r in normals} == {"s001", "s002"}
    wanted = records[0].split
    subset = source.records(wanted)
    assert [r.meta["sample_id"] for r in subset] == [r.meta["sample_id"] for r in records if r.split == wanted]
    assert source.records("nonexistent") == []


def test_label_field_can_be_a_trait_and_unlabelled_samples_are_not_normal(loaded, tmp_path):
    loaded.upsert_sample("s000", SampleIn(traits={"colour": None}))
    source = HubSource(loaded, label_field="colour", normal_class="brown", cache_dir=tmp_path / "c")
    by_id = {r.meta["sample_id"]: r for r in source.records()}
    assert by_id["s001"].label == "red" and by_id["s001"].is_anomalous
    assert by_id["s000"].label == "" and not by_id["s000"].is_anomalous
    assert "s000" not in {r.meta["sample_id"] for r in source.records(normal_only=True)}
    with pytest.raises(DataSourceError, match="label_field 'colr' is not a sample field"):
        HubSource(loaded, label_field="colr").records()


def test_data_hash_tracks_the_selection(loaded, tmp_path):
    a = HubSource(loaded, where='lot = "L0"', cache_dir=tmp_path / "c")
    b = HubSource(loaded, where='lot = "L0"', cache_dir=tmp_path / "c")
    assert a.data_hash == b.data_hash
    assert a.data_hash != HubSource(loaded, where='lot = "L1"', cache_dir=tmp_path / "c").data_hash
    loaded.upsert_sample("s000", SampleIn(germination="dead"))
    b.refresh()
    assert a.data_hash != b.data_hash


def test_modality_choice(loaded, tmp_path):
    write_dicom_series(tmp_path / "ct" / "s000", n_slices=2)
    loaded.import_dir(tmp_path / "ct", "volume")
    with pytest.raises(DataSourceError, match="several modalities"):
        HubSource(loaded, cache_dir=tmp_path / "c").records()
    volumes = HubSource(loaded, modality="volume", cache_dir=tmp_path / "c").records()
    assert len(volumes) == 1 and volumes[0].path.is_dir()
    array, _ = read(volumes[0].path)
    assert array.shape == (1, 2, 6, 6)


def test_cubes_from_a_bundle(hub, tmp_path):
    for i in range(2):
        write_envi(tmp_path / "hsi", f"leaf{i}", seed=i)
    hub.import_dir(tmp_path / "hsi", "cube")
    bundle = hub.bundle(tmp_path / "b.tar")
    with HubSource(bundle, cache_dir=tmp_path / "c") as source:
        assert source.hub.is_bundle
        records = source.records()
    assert [r.path.name for r in records] == ["leaf0.hdr", "leaf1.hdr"]
    array, meta = read(records[1].path)
    assert array.shape == (4, 5, 6) and meta.wavelengths == [400.0, 410.0, 420.0, 430.0]


def test_a_corrupt_blob_names_the_sample(loaded, tmp_path):
    digest = loaded.sample("s002").acquisitions[0].blob
    with open(loaded.store.path_of(digest), "ab") as handle:
        handle.write(b"x")
    with pytest.raises(DataSourceError, match="sample default/s002: cannot fetch its image blob"):
        HubSource(loaded, cache_dir=tmp_path / "c").records()
