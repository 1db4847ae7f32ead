"""Fusion data: manifest column kinds, missing cells, hub round trip, and errors naming the file and value."""

from __future__ import annotations

import csv

import pytest

from seedlens.errors import DataSourceError, ReadError
from seedlens.predictors import FusionPredictor, from_hub, read_manifest, to_hub
from seedlens.types import Modality


def test_kinds_are_inferred_from_files_and_values(toy_manifest):
    data = read_manifest(toy_manifest)
    assert data.kinds == {
        "ct": Modality.VOLUME, "hsi": Modality.CUBE, "rgb": Modality.IMAGE, "weight": Modality.TABLE,
        "lot": Modality.TABLE, "germination": Modality.TABLE, "oil": Modality.TABLE,
    }
    assert data.numeric == {"weight", "oil"}
    assert data.image_like == ["ct", "hsi", "rgb"]
    first = data.samples[0]
    assert first.files["ct"] is None  # every 7th sample lacks its CT: an empty cell
    assert data.array(first, "ct") is None
    assert data.array(data.samples[1], "ct").shape == (1, 10, 10, 10)
    assert data.array(data.samples[1], "hsi").shape == (6, 8, 8)
    assert isinstance(first.values["weight"], float) and first.values["lot"] == "L0"
    assert [len(data.split(s)) for s in ("train", "val", "test")] == [36, 12, 12]


def _rewrite(manifest, out, change):
    rows = list(csv.DictReader(manifest.open()))
    header = list(rows[0])
    header, rows = change(header, rows)
    with out.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=header, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return out


def test_manifest_errors_name_the_file_row_and_value(toy_manifest):
    folder = toy_manifest.parent
    with pytest.raises(ReadError, match=r"nope\.csv"):
        read_manifest(folder / "nope.csv")
    no_split = _rewrite(toy_manifest, folder / "no_split.csv", lambda h, r: ([c for c in h if c != "split"], r))
    with pytest.raises(DataSourceError, match=r"missing required column.*split"):
        read_manifest(no_split)

    def duplicate(h, r):
        r[3]["sample_id"] = r[2]["sample_id"]
        return h, r

    with pytest.raises(DataSourceError, match=r"line 5: sample_id 'S002' appears twice"):
        read_manifest(_rewrite(toy_manifest, folder / "dup.csv", duplicate))

    def gone(h, r):
        r[4]["rgb"] = "missing.png"
        return h, r

    with pytest.raises(DataSourceError, match=r"line 6: rgb file 'missing.png' does not exist"):
        read_manifest(_rewrite(toy_manifest, folder / "gone.csv", gone), {"rgb": "image"})
    with pytest.raises(DataSourceError, match="unknown modality 'voxel'"):
        read_manifest(toy_manifest, {"ct": "voxel"})
    with pytest.raises(DataSourceError, match="'xray', which is not a column"):
        read_manifest(toy_manifest, {"xray": "image"})


def test_unknown_target_or_modality_is_named_with_a_close_match(toy_manifest):
    data = read_manifest(toy_manifest)
    with pytest.raises(DataSourceError, match=r"target 'germinaton' .*did you mean 'germination'"):
        FusionPredictor(targets=("germinaton",), epochs=0).fit(data)
    with pytest.raises(DataSourceError, match=r"modality 'rbg' .*did you mean 'rgb'"):
        FusionPredictor(modalities=("rbg",), epochs=0).fit(data)


def test_hub_round_trip_and_training_from_a_bundle(toy_manifest, tmp_path):
    from seedlens.hub.local import LocalHub

    data = read_manifest(toy_manifest)
    hub = LocalHub.create(tmp_path / "hub")
    assert to_hub(data, hub) == len(data)
    bundle = hub.bundle(tmp_path / "seeds.tar")
    hub.close()
    back = from_hub(bundle, cache_dir=tmp_path / "cache")
    assert {"volume", "cube", "image", "weight", "lot", "germination", "oil"} <= set(back.kinds)
    assert back.kinds["volume"] is Modality.VOLUME and back.numeric >= {"weight", "oil"}
    assert len(back) == len(data)
    by_id = {s.sample_id: s for s in back.samples}
    for sample in data.samples:
        other = by_id[sample.sample_id]
        assert other.split == sample.split and other.values["germination"] == sample.values["germination"]
        assert (other.files["volume"] is None) == (sample.files["ct"] is None)
        assert other.values["oil"] == pytest.approx(sample.values["oil"])
    model = FusionPredictor(targets=("germination",), modalities=("volume", "image", "weight"), epochs=1,
                            device="cpu", dim=8).fit(back)
    predicted = model.predict(back.split("test"))
    assert predicted["germination"]["probabilities"].shape == (12, 3)
    with pytest.raises(DataSourceError, match="no sample"):
        from_hub(bundle, 'lot = "nope"', cache_dir=tmp_path / "cache")


def test_missing_value_tokens_extra_cells_and_a_missing_file_in_a_path_column(toy_manifest):
    folder = toy_manifest.parent

    def na_weight(h, r):
        r[0]["weight"], r[1]["weight"] = "NA", "nan"
        return h, r

    data = read_manifest(_rewrite(toy_manifest, folder / "na.csv", na_weight))
    assert "weight" in data.numeric and data.samples[0].values["weight"] is None

    def gone(h, r):
        r[4]["rgb"] = "missing.png"
        return h, r

    with pytest.raises(DataSourceError, match=r"line 6: rgb file 'missing.png' does not exist"):
        read_manifest(_rewrite(toy_manifest, folder / "gone2.csv", gone))  # still a path column, named
    extra = folder / "extra.csv"
    lines = toy_manifest.read_text().splitlines()
    lines[3] += ",surplus"
    extra.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataSourceError, match=r"line 4: 10 cells but the header has 9 columns"):
        read_manifest(extra)
