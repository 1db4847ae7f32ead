"""``hub import --split-seeds``: each grain of a CT scan its own sample, linked to the scan; idempotent."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from seedlens.data.synthetic.ear import make_ear_phantom
from seedlens.hub import Hub
from seedlens.hub.errors import HubImportError
from seedlens.hub.local import LocalHub
from seedlens.io import write_nifti


@pytest.fixture
def scans(tmp_path: Path) -> Path:
    folder = tmp_path / "scans"
    for name, seed in (("ear1", 0), ("ear2", 1)):
        phantom = make_ear_phantom(4, touching_pairs=1, rng=seed)
        write_nifti(folder / f"{name}.nii.gz", phantom.volume, spacing=(0.05, 0.05, 0.05))
    return folder


def test_grains_become_linked_samples_with_traits_and_a_rerun_adds_nothing(hub: LocalHub, scans: Path):
    first = hub.import_dir(scans, "volume", split_seeds=True)
    assert first.added_samples == 2 + 8 and first.added_acquisitions == 10
    again = hub.import_dir(scans, "volume", split_seeds=True)
    assert (again.added_samples, again.added_acquisitions, again.new_blobs, again.updated_labels) == (0, 0, 0, 0)
    ear = hub.sample("ear1")
    grains = [s for s in hub.samples('parent = "ear1"')]
    assert [g.sample_id for g in grains] == ["ear1-g01", "ear1-g02", "ear1-g03", "ear1-g04"]
    for grain in grains:
        link = grain.acquisitions[0].parent
        assert link is not None and link.sample_id == "ear1" and link.blob == ear.acquisitions[0].blob
        assert len(link.region) == 3 and all(a < b for a, b in link.region)
        assert all(a <= c < b for c, (a, b) in zip(link.centroid, link.region, strict=True))
        assert grain.acquisitions[0].shape[1:] == [b - a for a, b in link.region]
        assert grain.traits["volume_mm3"] > 0 and grain.traits["length_mm"] > grain.traits["thickness_mm"]
        assert grain.acquisitions[0].spacing == pytest.approx([0.05, 0.05, 0.05])


def test_labels_may_key_on_grain_ids_and_links_survive_a_bundle(hub: LocalHub, scans: Path, tmp_path: Path):
    labels = tmp_path / "labels.csv"
    with open(labels, "w", newline="") as handle:
        csv.writer(handle).writerows([["sample_id", "germination"], ["ear1-g02", "dead"], ["ear2-g01", "normal"]])
    hub.import_dir(scans, "volume", split_seeds=True, labels=labels)
    assert hub.sample("ear1-g02").germination == "dead"
    out = hub.bundle(tmp_path / "bundle", 'parent = "ear2"')
    with Hub.open(out) as bundle:
        grains = list(bundle.samples())
        assert [g.sample_id for g in grains] == [f"ear2-g0{k}" for k in range(1, 5)]
        assert grains[0].germination == "normal"
        assert all(g.acquisitions[0].parent.sample_id == "ear2" for g in grains)
        original = {g.sample_id: g.acquisitions[0].parent for g in hub.samples('parent = "ear2"')}
        assert {g.sample_id: g.acquisitions[0].parent for g in grains} == original


def test_a_scan_without_grains_stops_the_import_before_anything_is_stored(hub: LocalHub, scans: Path):
    write_nifti(scans / "empty.nii.gz", np.zeros((20, 20, 20), np.float32))
    with pytest.raises(HubImportError, match=r"empty\.nii\.gz: .*no grain"):
        hub.import_dir(scans, "volume", split_seeds=True)
    assert list(hub.samples()) == []


def test_split_seeds_refuses_other_modalities(hub: LocalHub, tmp_path: Path):
    folder = tmp_path / "images"
    folder.mkdir()
    np.save(folder / "a.npy", np.zeros((1, 8, 8), np.float32))
    with pytest.raises(HubImportError, match="splits CT volumes"):
        hub.import_dir(folder, "image", split_seeds=True)


def test_cli_import_split_seeds(scans: Path, tmp_path: Path):
    from seedlens.cli.main import _attach_groups, app

    _attach_groups()
    LocalHub.create(tmp_path / "cli-hub").close()
    result = CliRunner().invoke(app, ["hub", "import", str(scans), "-m", "volume", "--split-seeds",
                                      "--hub", str(tmp_path / "cli-hub")])
    assert result.exit_code == 0, result.output
    assert "10 sample(s) and 10 acquisition(s) added" in result.output
    assert "split ear1.nii.gz: 4 grains (ear1-g01 … ear1-g04" in result.output
    listing = CliRunner().invoke(app, ["hub", "ls", "--hub", str(tmp_path / "cli-hub"), "--where", 'parent = "ear1"'])
    assert listing.exit_code == 0 and listing.output.count("ear1-g0") == 4
