"""Seed provenance: a derived acquisition records the parent acquisition and region it was cut out of."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import numpy as np
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, select, text
from typer.testing import CliRunner

from seedlens.hub import Hub, HubSettings, ParentLink, create_app
from seedlens.hub.catalog import migrate
from seedlens.hub.catalog.engine import CATALOG_FILE, create_catalog_engine, sqlite_url
from seedlens.hub.catalog.models import Acquisition, Base
from seedlens.hub.discover import Candidate
from seedlens.hub.errors import InvalidNameError
from seedlens.hub.importer import ImportReport, _prepare, _write_batch
from seedlens.hub.local import LocalHub
from seedlens.hub.schemas import ParentOut
from seedlens.hub.testing import live_server  # noqa: F401 - fixture registered by name
from seedlens.types import Modality

REGION = [[10, 52], [3, 40], [0, 33]]
CENTROID = [31.0, 21.5, 16.25]


@pytest.fixture
def ear(hub: LocalHub, tmp_path: Path) -> dict:
    """An ear ``ear1`` (one volume) and two grains cut out of it, ``ear1-g01`` with a centroid, ``ear1-g02`` without."""
    rng = np.random.default_rng(0)
    np.save(tmp_path / "ear1.npy", rng.random((1, 60, 44, 36), dtype=np.float32))
    parent = hub.add_file(tmp_path / "ear1.npy", sample_id="ear1", modality="volume").acquisition.blob
    np.save(tmp_path / "g01.npy", rng.random((1, 42, 37, 33), dtype=np.float32))
    child = hub.add_file(tmp_path / "g01.npy", sample_id="ear1-g01", modality="volume",
                         parent=ParentLink("ear1", parent, REGION, CENTROID))
    np.save(tmp_path / "g02.npy", rng.random((1, 4, 5, 6), dtype=np.float32))
    hub.add_file(tmp_path / "g02.npy", sample_id="ear1-g02", modality="volume",
                 parent=ParentLink("ear1", parent, [(50, 54), (0, 5), (30, 36)]))
    return {"hub": hub, "parent_blob": parent, "child_blob": child.acquisition.blob, "upload": child,
            "files": tmp_path}


def test_parent_link_normalises_and_checks_its_values():
    link = ParentLink("ear1", "a" * 64, [slice(10, 52), np.array([3, 40]), (np.int64(0), 33.0)],
                      np.array([31, 21.5, 16.25]))
    assert link.region == ((10, 52), (3, 40), (0, 33)) and link.centroid == (31.0, 21.5, 16.25)
    assert link.region_json() == REGION and link.centroid_json() == CENTROID
    assert ParentLink("ear1", "b" * 64).region_json() is None
    bad = [
        ({"sample_id": "../x"}, "must not contain '/'"),
        ({"blob": "ABC"}, "sha256 hex digest"),
        ({"region": [[5, 5]]}, "0 <= start < stop"),
        ({"region": [[-1, 3]]}, "0 <= start < stop"),
        ({"region": [[0, 2.5]]}, "must be an integer"),
        ({"region": [[0, 1, 2]]}, "pair"),
        ({"region": [slice(0, 9, 2)]}, "step 1"),
        ({"region": []}, "non-empty"),
        ({"region": [[0, 1]], "centroid": [0.5, 0.5]}, "1 axes but the centroid has 2"),
        ({"centroid": [float("nan")]}, "finite"),
        ({"centroid": ["x"]}, "must be a number"),
    ]
    for change, message in bad:
        values = {"sample_id": "ear1", "blob": "a" * 64, **change}
        with pytest.raises(InvalidNameError, match=message):
            ParentLink(**values)


def test_write_batch_stores_a_candidates_parent_link(hub, tmp_path):
    """The importer's path: a Candidate carrying a ParentLink, prepared and written by _write_batch."""
    np.save(tmp_path / "ear.npy", np.ones((1, 8, 8, 8), np.float32))
    np.save(tmp_path / "grain.npy", np.zeros((1, 3, 4, 5), np.float32))
    ear = Candidate("ear7", "ear.npy", "file", tmp_path / "ear.npy", suffix=".npy")
    report = ImportReport()
    [ear_item] = _prepare(hub, [ear], Modality.VOLUME, "lab", False, report, None)
    link = ParentLink("ear7", ear_item.digest, [[1, 4], [2, 6], [0, 5]], [2.5, 4.0, 2.0])
    grain = Candidate("ear7-g01", "grains/g01.npy", "file", tmp_path / "grain.npy", suffix=".npy", parent=link)
    prepared = _prepare(hub, [ear, grain], Modality.VOLUME, "lab", False, report, None)
    for item in prepared:
        hub.store.put_file(item.blob_path, move=item.temporary)
    with hub.session() as session:
        _write_batch(session, prepared, Modality.VOLUME, "lab", None, report)
        session.commit()
    assert report.added_samples == 2 and report.added_acquisitions == 2
    assert hub.sample("ear7").acquisitions[0].parent is None
    [acq] = hub.sample("ear7-g01", project="lab").acquisitions
    assert acq.parent == ParentOut(sample_id="ear7", blob=ear_item.digest, region=[[1, 4], [2, 6], [0, 5]],
                                   centroid=[2.5, 4.0, 2.0])
    assert acq.source_name == "grains/g01.npy" and acq.shape == [1, 3, 4, 5]
    with hub.session() as session:
        row = session.scalar(select(Acquisition).where(Acquisition.parent_sample_id == "ear7"))
        assert row is not None and row.parent_blob == ear_item.digest and row.region == [[1, 4], [2, 6], [0, 5]]


def test_local_hub_reads_the_link_and_lists_children(ear):
    hub = ear["hub"]
    assert ear["upload"].acquisition.parent is not None and ear["upload"].created
    [acq] = hub.sample("ear1-g01").acquisitions
    assert acq.parent == ParentOut(sample_id="ear1", blob=ear["parent_blob"], region=REGION, centroid=CENTROID)
    [acq2] = hub.sample("ear1-g02").acquisitions
    assert acq2.parent is not None and acq2.parent.region == [[50, 54], [0, 5], [30, 36]]
    assert acq2.parent.centroid is None
    assert hub.sample("ear1").acquisitions[0].parent is None
    ids = lambda where: [s.sample_id for s in hub.samples(where)]  # noqa: E731
    assert ids('parent = "ear1"') == ["ear1-g01", "ear1-g02"]
    assert ids('parent in ("ear1", "ear9")') == ["ear1-g01", "ear1-g02"]
    assert ids('parent = "ear9"') == [] and ids('parent != "ear1"') == ["ear1"]
    assert ids("parent = null") == ["ear1"] and ids("parent != null") == ["ear1-g01", "ear1-g02"]
    assert ids('parent contains "EAR" and sample_id = "ear1-g02"') == ["ear1-g02"]
    assert {f.name: f.kind for f in hub.fields()}["parent"] == "multi"
    # idempotent: the same file again adds nothing and keeps the link
    again = hub.add_file(ear["files"] / "g01.npy", sample_id="ear1-g01", modality="volume",
                         parent=ParentLink("ear1", ear["parent_blob"], REGION, CENTROID))
    assert not again.created and again.acquisition.parent is not None


def test_parent_is_a_reserved_field_name():
    from seedlens.hub.names import normalize_trait_name

    with pytest.raises(InvalidNameError, match="reserved"):
        normalize_trait_name("Parent")


def test_rest_shows_the_parent(ear, live_server):  # noqa: F811
    hub = ear["hub"]
    _, token = hub.create_token("reader", "read")
    server = live_server(create_app(HubSettings(), hub=hub))
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"}) as client:
        schemas = client.get("/openapi.json").json()["components"]["schemas"]
        assert set(schemas["ParentOut"]["properties"]) == {"sample_id", "blob", "region", "centroid"}
        assert "description" in schemas["ParentOut"]["properties"]["region"]
        assert "parent" in schemas["AcquisitionOut"]["properties"]
        body = client.get("/api/v1/samples/ear1-g01").json()
        assert body["acquisitions"][0]["parent"] == {"sample_id": "ear1", "blob": ear["parent_blob"],
                                                     "region": REGION, "centroid": CENTROID}
        assert client.get("/api/v1/samples/ear1").json()["acquisitions"][0]["parent"] is None
        page = client.get("/api/v1/samples", params={"where": 'parent = "ear1"'}).json()
        assert [s["sample_id"] for s in page["items"]] == ["ear1-g01", "ear1-g02"]
    with Hub.open(server.url, token=token) as remote:
        parent = remote.sample("ear1-g01").acquisitions[0].parent
        assert parent is not None and parent.region == REGION


def test_bundle_and_merge_keep_the_link(ear, tmp_path):
    hub = ear["hub"]
    out = hub.bundle(tmp_path / "b", 'parent = "ear1"')  # the children only: the link may dangle in a bundle
    with Hub.open(out) as bundle:
        assert [s.sample_id for s in bundle.samples()] == ["ear1-g01", "ear1-g02"]
        parent = bundle.sample("ear1-g01").acquisitions[0].parent
        assert parent is not None and parent.blob == ear["parent_blob"] and parent.region == REGION
    with LocalHub.create(tmp_path / "other") as other:
        report = other.merge(out)
        assert report.samples == 2 and report.acquisitions == 2 and report.conflicts == []
        assert other.sample("ear1-g01").acquisitions[0].parent == hub.sample("ear1-g01").acquisitions[0].parent
        assert [s.sample_id for s in other.samples('parent = "ear1"')] == ["ear1-g01", "ear1-g02"]
        assert other.merge(out).acquisitions == 0
        # a whole-hub merge brings the parent too
        assert other.merge(hub).samples == 1 and other.sample("ear1").acquisitions[0].parent is None


def test_merge_fills_in_a_missing_link_and_reports_a_different_one(ear, tmp_path):
    hub = ear["hub"]
    source = tmp_path / "g01.npy"
    with LocalHub.create(tmp_path / "plain") as plain:  # the same grain, imported without its link
        plain.add_file(source, sample_id="ear1-g01", modality="volume")
        assert plain.merge(hub).conflicts == []
        assert plain.sample("ear1-g01").acquisitions[0].parent == hub.sample("ear1-g01").acquisitions[0].parent
    with LocalHub.create(tmp_path / "other") as other:
        other.add_file(source, sample_id="ear1-g01", modality="volume",
                       parent=ParentLink("ear2", "c" * 64, [[0, 42], [0, 37], [0, 33]]))
        report = other.merge(hub)
        assert len(report.conflicts) == 1 and "cut from ear2" in report.conflicts[0]
        parent = other.sample("ear1-g01").acquisitions[0].parent
        assert parent is not None and parent.sample_id == "ear2"


def _insert_0002_rows(engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("insert into projects (id, name, created_at) values (1, 'default', '2026-01-01')"))
        conn.execute(text("insert into samples (id, project_id, sample_id, species, created_at, updated_at) "
                          "values (1, 1, 'ear1', 'maize', '2026-01-01', '2026-01-01')"))
        conn.execute(text(
            "insert into acquisitions (id, sample_pk, modality, blob_hash, blob_kind, suffix, entry, source_name, "
            "size, shape, dtype, spacing, created_at) values (1, 1, 'volume', :h, 'file', '.npy', '', 'ear1.npy', "
            "10, '[1, 4, 5, 6]', 'float32', '[0.1, 0.1, 0.1]', '2026-01-01')"), {"h": "d" * 64})
        conn.execute(text("insert into models (id, uid, config, metrics, created_at) "
                          "values (1, 'm1', '{}', '{}', '2026-01-01')"))
        conn.execute(text("insert into predictions (id, model_pk, sample_pk, acquisition_pk, score, created_at) "
                          "values (1, 1, 1, 1, 0.5, '2026-01-01')"))


def test_migration_0003_upgrades_a_0002_catalog_and_keeps_its_rows(tmp_path):
    folder = tmp_path / "old"
    folder.mkdir()
    engine = create_catalog_engine(sqlite_url(folder / CATALOG_FILE))
    migrate.upgrade(engine, "0002")
    assert migrate.current_revision(engine) == "0002"
    assert "parent_sample_id" not in {c["name"] for c in inspect(engine).get_columns("acquisitions")}
    _insert_0002_rows(engine)
    engine.dispose()

    with LocalHub.create(folder) as hub:  # what `seedlens hub init` on an existing hub does
        assert migrate.current_revision(hub.engine) == migrate.head_revision(hub.engine) == "0003"
        with hub.engine.connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
            assert conn.execute(text("select acquisition_pk from predictions")).scalar() == 1
            indexes = {i["name"] for i in inspect(conn).get_indexes("acquisitions")}
            assert "ix_acquisitions_parent_sample_id" in indexes
        sample = hub.sample("ear1")
        assert sample.species == "maize"
        [acq] = sample.acquisitions
        assert acq.blob == "d" * 64 and acq.shape == [1, 4, 5, 6] and acq.spacing == [0.1, 0.1, 0.1]
        assert acq.parent is None
        assert [s.sample_id for s in hub.samples("parent = null")] == ["ear1"]

        # and back down: the columns go, the rows (and the prediction's acquisition) stay
        from alembic import command

        config = migrate._alembic_config(hub.engine)
        with hub.engine.begin() as conn:
            config.attributes["connection"] = conn
            command.downgrade(config, "0002")
        with hub.engine.connect() as conn:
            assert migrate.current_revision(hub.engine) == "0002"
            assert "region" not in {c["name"] for c in inspect(conn).get_columns("acquisitions")}
            assert conn.execute(text("select acquisition_pk from predictions")).scalar() == 1
            assert conn.execute(text("select count(*) from acquisitions")).scalar() == 1


@pytest.fixture
def run():
    from seedlens.cli import main

    main._attach_groups()
    runner = CliRunner()
    return lambda *args: runner.invoke(main.app, ["hub", *args], catch_exceptions=False)


def test_hub_ls_shows_where_a_sample_was_cut_from(ear, run):
    location = ear["hub"].location
    result = run("ls", "--hub", location)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert "from" in lines[1]
    assert any("ear1-g01" in line and line.rstrip("│ ").endswith("ear1") for line in lines)
    assert "3 of 3 matching" in result.stdout
    result = run("ls", "--hub", location, "--where", 'parent = "ear1"')
    assert "ear1-g02" in result.stdout and "2 of 2 matching" in result.stdout
    listing = json.loads(run("ls", "--hub", location, "--where", 'sample_id = "ear1-g01"', "--json").stdout)
    assert listing[0]["acquisitions"][0]["parent"] == {"sample_id": "ear1", "blob": ear["parent_blob"],
                                                       "region": REGION, "centroid": CENTROID}


def test_hub_ls_without_derived_samples_has_no_from_column(loaded, run):
    result = run("ls", "--hub", loaded.location)
    assert result.exit_code == 0 and "from" not in result.stdout.splitlines()[1]
    assert max(len(line) for line in result.stdout.splitlines()) <= 80
    assert "s000" in result.stdout and "6 of 6 matching" in result.stdout
