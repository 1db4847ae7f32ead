"""Bundles: create (folder / .tar), open read-only, verify (tampering), merge back without duplicates."""

from __future__ import annotations

import json
import shutil
import sqlite3
import tarfile

import numpy as np
import pytest

from seedlens.hub import Hub
from seedlens.hub.bundle import verify_bundle
from seedlens.hub.errors import BundleError, NotFoundError, ReadOnlyHubError
from seedlens.hub.local import LocalHub
from seedlens.hub.schemas import SampleIn


@pytest.fixture
def scored(loaded):
    model = loaded.register_model({"detector": "fcdd"}, {"auroc": 0.9}, 'species = "wheat"', "a" * 64, name="run")
    loaded.write_predictions(model, [("s000", 0.9, np.ones((1, 8, 8), np.float32)), ("s004", 0.1)])
    return loaded


def test_folder_bundle_holds_the_query_and_verifies(scored, tmp_path):
    out = scored.bundle(tmp_path / "b", 'lot = "L0"')
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["query"] == 'lot = "L0"' and manifest["samples"] == 2 and len(manifest["blobs"]) == 3
    report = verify_bundle(out)
    assert report.ok and report.checked == 3
    with Hub.open(out) as bundle:
        assert isinstance(bundle, LocalHub) and bundle.is_bundle and bundle.read_only
        assert [s.sample_id for s in bundle.samples()] == ["s000", "s001"]
        assert bundle.sample("s000").traits == {"oil_content": 40.5, "colour": "brown"}
        assert [p.score for p in bundle.predictions()] == [0.9]
        assert bundle.tokens() == []
        with pytest.raises(ReadOnlyHubError):
            bundle.upsert_sample("new", SampleIn())
    assert not (out / "catalog.sqlite-wal").exists()
    assert verify_bundle(out).ok  # opening did not change the catalog


def test_tar_bundle_round_trip(scored, tmp_path):
    out = scored.bundle(tmp_path / "all.tar")
    assert tarfile.is_tarfile(out)
    assert verify_bundle(out).ok
    with Hub.open(out) as bundle:
        assert bundle.count() == 6
    with pytest.raises(BundleError, match="already exists"):
        scored.bundle(out)


def test_tokens_never_leave_the_hub(scored, tmp_path):
    scored.create_token("admin1", "admin")
    out = scored.bundle(tmp_path / "b")
    assert sqlite3.connect(out / "catalog.sqlite").execute("select count(*) from tokens").fetchone() == (0,)


def blob_files(folder):
    return sorted(p for p in (folder / "blobs").rglob("*") if p.is_file())


@pytest.mark.parametrize(
    ("tamper", "fragment"),
    [
        (lambda b: blob_files(b)[0].write_bytes(b"changed"), "changed: its bytes now hash to"),
        (lambda b: blob_files(b)[0].unlink(), "missing blob"),
        (lambda b: (b / "blobs" / "extra.bin").write_bytes(b"x"), "extra file blobs/extra.bin"),
        (lambda b: shutil.copy(blob_files(b)[0], b / "blobs" / ("0" * 64)), "extra file"),
        (lambda b: sqlite3.connect(b / "catalog.sqlite").execute(
            "update samples set germination = 'normal'").connection.commit(), "catalog catalog.sqlite was modified"),
        (lambda b: (b / "manifest.json").write_text("{"), "unreadable manifest"),
    ],
)
def test_verify_reports_tampering(scored, tmp_path, tamper, fragment):
    out = scored.bundle(tmp_path / "b")
    tamper(out)
    report = verify_bundle(out)
    assert not report.ok
    assert any(fragment in p for p in report.problems), report.problems


def test_tampered_tar_fails(scored, tmp_path):
    folder = scored.bundle(tmp_path / "b")
    blob_files(folder)[0].write_bytes(b"changed")
    archive = tmp_path / "t.tar"
    with tarfile.open(archive, "w") as tar:
        for path in sorted(folder.rglob("*")):
            tar.add(path, arcname=path.relative_to(folder).as_posix(), recursive=False)
    assert not verify_bundle(archive).ok


def test_merge_back_without_duplicates(scored, tmp_path):
    out = scored.bundle(tmp_path / "b.tar", 'species = "wheat"')
    fresh = LocalHub.create(tmp_path / "fresh")
    try:
        first = fresh.merge(out)
        assert (first.samples, first.acquisitions, first.models, first.predictions) == (4, 4, 1, 1)
        assert first.blobs == 5 and fresh.verify().ok
        second = fresh.merge(out)
        assert (second.samples, second.acquisitions, second.traits, second.tags, second.predictions) == (0,) * 5
        assert fresh.count() == 4
        assert fresh.sample("s000").tags == ["batch1", "x-ray"]
    finally:
        fresh.close()
    before = scored.count()
    report = scored.merge(out)
    assert report.samples == 0 and report.acquisitions == 0 and scored.count() == before


def test_merge_keeps_target_values_and_reports_conflicts(scored, tmp_path):
    out = scored.bundle(tmp_path / "b", 'sample_id = "s001"')
    scored.upsert_sample("s001", SampleIn(lot="CHANGED"))
    report = scored.merge(out)
    assert any("s001: lot is 'CHANGED' here, 'L0' in the source" in c for c in report.conflicts)
    assert scored.sample("s001").lot == "CHANGED"


def test_merge_refuses_a_tampered_bundle(scored, tmp_path):
    out = scored.bundle(tmp_path / "b")
    blob_files(out)[0].write_bytes(b"changed")
    with pytest.raises(BundleError, match="failed verification"):
        scored.merge(out)


def test_hub_verify(scored):
    assert scored.verify().ok
    digest = scored.sample("s003").acquisitions[0].blob
    path = scored.store.path_of(digest)
    with open(path, "ab") as handle:
        handle.write(b"!")
    stray = scored.store.put_bytes(b"nobody uses me")
    report = scored.verify()
    assert any(f"blob {digest} changed" in p for p in report.problems)
    assert any(f"extra blob {stray.digest}" in p for p in report.problems)
    scored.store.delete(digest)
    assert any(f"missing blob {digest}" in p for p in scored.verify().problems)


def test_predictions_by_project_key(loaded, seeds):
    loaded.import_dir(seeds["folder"], "image", project="other")
    model = loaded.register_model({}, {})
    with pytest.raises(NotFoundError, match="several projects"):
        loaded.write_predictions(model, [("s000", 1.0)])
    assert loaded.write_predictions(model, [("default/s000", 1.0), ("other/s000", 2.0), ("s001", 3.0)],
                                    project="other") == 3
    stored = {(p.project, p.sample_id): p.score for p in loaded.predictions(model)}
    assert stored == {("default", "s000"): 1.0, ("other", "s000"): 2.0, ("other", "s001"): 3.0}


def test_merge_a_hub_folder_into_another(scored, tmp_path):
    other = LocalHub.create(tmp_path / "other")
    other.upsert_sample("mine", SampleIn(species="oat"))
    report = other.merge(scored.location)
    assert report.samples == 6 and report.models == 1 and report.predictions == 2
    assert other.count() == 7 and other.verify().ok
    assert other.merge(scored.location).samples == 0
    other.close()
