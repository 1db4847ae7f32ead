"""Import: every core format, idempotency, labels, warnings, de-identification, all-or-nothing errors."""

from __future__ import annotations

import os
import tarfile

import numpy as np
import pydicom
import pytest

from seedlens.hub.errors import HubImportError, InvalidNameError, LabelsError
from seedlens.hub.testing import write_dicom_series, write_envi, write_images, write_labels, write_volume


def snapshot(hub):
    """Everything an import could change: samples with labels/traits/tags/acquisitions, and the blobs."""
    samples = [s.model_dump(exclude={"acquisitions"}) | {"acq": [a.blob for a in s.acquisitions]}
               for s in hub.samples()]
    return samples, sorted(hub.store.iter_digests())


def test_import_with_labels(hub, seeds):
    report = hub.import_dir(seeds["folder"], "image", labels=seeds["labels"])
    assert (report.added_samples, report.added_acquisitions, report.new_blobs) == (6, 6, 6)
    assert report.warnings == []
    sample = hub.sample("s001")
    assert (sample.species, sample.lot, sample.germination) == ("wheat", "L0", "normal")
    assert sample.traits == {"oil_content": 41.5, "colour": "red"} and sample.tags == ["batch1", "x-ray"]
    acquisition = sample.acquisitions[0]
    assert acquisition.kind == "file" and acquisition.suffix == ".npy" and acquisition.source_name == "s001.npy"
    assert acquisition.shape == [1, 8, 8] and acquisition.dtype == "float32"


def test_import_twice_adds_nothing(hub, seeds):
    hub.import_dir(seeds["folder"], "image", labels=seeds["labels"])
    before = snapshot(hub)
    report = hub.import_dir(seeds["folder"], "image", labels=seeds["labels"])
    assert (report.added_samples, report.added_acquisitions, report.updated_labels, report.new_blobs) == (0, 0, 0, 0)
    assert report.unchanged == 6
    assert snapshot(hub) == before


def test_identical_content_is_stored_once(hub, tmp_path):
    folder = tmp_path / "dup"
    folder.mkdir()
    data = np.ones((1, 4, 4), np.float32)
    np.save(folder / "a.npy", data)
    np.save(folder / "b.npy", data)
    report = hub.import_dir(folder, "image")
    assert report.added_acquisitions == 2 and report.new_blobs == 1


def test_several_files_of_one_sample_are_several_acquisitions(hub, tmp_path):
    folder = tmp_path / "multi"
    write_images(folder / "top", 1, prefix="seed")
    write_images(folder / "side", 1, prefix="seed", seed=5)
    report = hub.import_dir(folder, "image")
    assert report.added_samples == 1 and report.added_acquisitions == 2
    assert any("1 sample id(s) have several files, each stored as an acquisition: seed000" in w
               for w in report.warnings)
    assert [a.source_name for a in hub.sample("seed000").acquisitions] == ["side/seed000.npy", "top/seed000.npy"]


def test_label_warnings_for_ids_without_files_and_files_without_ids(hub, seeds, tmp_path):
    rows = [{"sample_id": "s000", "lot": "A"}, {"sample_id": "ghost", "lot": "B"}]
    labels = write_labels(tmp_path / "partial.csv", rows)
    report = hub.import_dir(seeds["folder"], "image", labels=labels)
    joined = "\n".join(report.warnings)
    assert "1 id(s) in partial.csv have no file (not added): ghost" in joined
    assert "5 file(s) have no row in partial.csv: s001, s002, s003, s004, s005" in joined
    assert hub.count() == 6


def test_labels_update_samples_imported_earlier(hub, seeds, tmp_path):
    hub.import_dir(seeds["folder"], "image")
    empty = tmp_path / "empty"
    empty.mkdir()
    labels = write_labels(tmp_path / "late.csv", [{"sample_id": "s002", "germination": "dead", "weight": "3"}])
    report = hub.import_dir(empty, "image", labels=labels)
    assert report.updated_labels == 1 and report.warnings == []
    assert hub.sample("s002").germination == "dead" and hub.sample("s002").traits == {"weight": 3.0}


def test_bad_files_abort_before_anything_is_stored(loaded, seeds, tmp_path):
    before = snapshot(loaded)
    folder = tmp_path / "mixed"
    write_images(folder, 2, prefix="new")
    (folder / "truncated.npy").write_bytes((seeds["folder"] / "s000.npy").read_bytes()[:90])
    (folder / "notes.xyz").write_text("not a scan")
    with pytest.raises(HubImportError) as info:
        loaded.import_dir(folder, "image")
    message = str(info.value)
    assert "nothing was stored" in message and "2 problem(s)" in message
    assert "truncated.npy" in message and "notes.xyz" in message and "unknown format" in message
    assert snapshot(loaded) == before
    assert not any((loaded.store.tmp_dir()).iterdir())


def test_non_utf8_file_name_is_an_error_naming_it(hub, tmp_path):
    folder = tmp_path / "names"
    write_images(folder, 1)
    fd = os.open(os.fsencode(folder) + b"/bad\xff.npy", os.O_WRONLY | os.O_CREAT)
    os.close(fd)
    with pytest.raises(HubImportError, match=r"bad\\xff\.npy.*not valid UTF-8"):
        hub.import_dir(folder, "image")
    assert hub.count() == 0


def test_bad_labels_abort_the_import(hub, seeds, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("sample_id,germination\ns000,sprouted\n")
    with pytest.raises(LabelsError, match="line 2"):
        hub.import_dir(seeds["folder"], "image", labels=bad)
    assert hub.count() == 0 and list(hub.store.iter_digests()) == []


def test_id_pattern(hub, tmp_path):
    folder = tmp_path / "plates"
    write_images(folder / "plate1", 2, prefix="seed_")
    write_images(folder, 1, prefix="other")
    report = hub.import_dir(folder, "image", id_pattern=r"plate(?P<plate>\d)/seed_(?P<id>\d+)")
    assert sorted(s.sample_id for s in hub.samples()) == ["000", "001"]
    assert any("other000.npy: does not match --id-pattern" in w for w in report.warnings)


def test_dicom_series_is_one_deidentified_volume(hub, tmp_path):
    from seedlens.hub.dataset import materialize
    from seedlens.io import read

    folder = tmp_path / "ct"
    expected = write_dicom_series(folder / "patient7", n_slices=3)
    hub.import_dir(folder, "volume")
    sample = hub.sample("patient7")
    acquisition = sample.acquisitions[0]
    assert acquisition.kind == "tar" and acquisition.entry == "" and acquisition.shape == [1, 3, 6, 6]
    assert acquisition.spacing == [1.5, 0.5, 0.5] and acquisition.device == "SeedScan"
    path = materialize(hub, acquisition, tmp_path / "cache")
    assert path.is_dir() and sorted(p.name for p in path.iterdir()) == [f"slice_{i:05d}.dcm" for i in range(3)]
    for slice_file in path.iterdir():
        ds = pydicom.dcmread(slice_file)
        for keyword in ("PatientName", "PatientID", "PatientBirthDate", "PatientAddress", "InstitutionName"):
            assert keyword not in ds
        assert ds.PatientIdentityRemoved == "YES"
    volume, _ = read(path)
    np.testing.assert_allclose(volume[0], expected)


def test_keep_phi_stores_dicom_as_is(hub, tmp_path):
    from seedlens.hub.dataset import materialize

    write_dicom_series(tmp_path / "ct" / "p1", n_slices=2)
    hub.import_dir(tmp_path / "ct", "volume", keep_phi=True)
    path = materialize(hub, hub.sample("p1").acquisitions[0], tmp_path / "cache")
    assert str(pydicom.dcmread(next(path.iterdir())).PatientName) == "DOE^JANE"


def test_envi_pair_and_nifti_volume(hub, tmp_path):
    from seedlens.hub.dataset import materialize
    from seedlens.io import read

    cube = write_envi(tmp_path / "hsi", "leaf01", bands=4)
    hub.import_dir(tmp_path / "hsi", "cube")
    acquisition = hub.sample("leaf01").acquisitions[0]
    assert acquisition.kind == "tar" and acquisition.entry == "leaf01.hdr"
    assert acquisition.wavelengths == [400.0, 410.0, 420.0, 430.0] and acquisition.shape == [4, 5, 6]
    array, _ = read(materialize(hub, acquisition, tmp_path / "cache"))
    np.testing.assert_array_equal(array, cube)

    volume = write_volume(tmp_path / "ct" / "seed9.nii.gz", spacing=(2.0, 0.5, 0.25))
    hub.import_dir(tmp_path / "ct", "volume")
    acquisition = hub.sample("seed9").acquisitions[0]
    assert acquisition.suffix == ".nii.gz" and acquisition.spacing == [2.0, 0.5, 0.25]
    array, _ = read(materialize(hub, acquisition, tmp_path / "cache"))
    np.testing.assert_array_equal(array, volume)


def test_envi_header_without_data_is_an_error(hub, tmp_path):
    write_envi(tmp_path / "hsi", "lonely")
    (tmp_path / "hsi" / "lonely.img").unlink()
    with pytest.raises(HubImportError, match=r"lonely\.hdr: header without its data file"):
        hub.import_dir(tmp_path / "hsi", "cube")


def test_add_file_and_tar_uploads(hub, tmp_path):
    write_images(tmp_path / "one", 1)
    result = hub.add_file(tmp_path / "one" / "s000.npy", sample_id="up1", modality="image")
    assert result.created and result.sample.sample_id == "up1"
    again = hub.add_file(tmp_path / "one" / "s000.npy", sample_id="up1", modality="image")
    assert not again.created and again.acquisition.blob == result.acquisition.blob

    write_dicom_series(tmp_path / "series", n_slices=2)
    archive = tmp_path / "series.tar"
    with tarfile.open(archive, "w") as tar:
        for file in sorted((tmp_path / "series").iterdir()):
            tar.add(file, arcname=file.name)
    result = hub.add_file(archive, sample_id="ct1", modality="volume")
    assert result.acquisition.kind == "tar" and result.acquisition.shape == [1, 2, 6, 6]

    evil = tmp_path / "evil.tar"
    with tarfile.open(evil, "w") as tar:
        tar.add(tmp_path / "one" / "s000.npy", arcname="../../escape.npy")
    with pytest.raises(InvalidNameError, match="escapes its folder"):
        hub.add_file(evil, sample_id="x", modality="image")
    assert not (tmp_path / "escape.npy").exists()
    with pytest.raises(InvalidNameError):
        hub.add_file(tmp_path / "one" / "s000.npy", sample_id="../x", modality="image")


def test_add_file_packs_an_envi_header_with_its_data_file(hub, tmp_path):
    from seedlens.hub.dataset import materialize
    from seedlens.io import read

    original = write_envi(tmp_path / "hsi", "cube1")
    header = tmp_path / "hsi" / "cube1.hdr"
    result = hub.add_file(header, sample_id="c1", modality="cube")
    assert result.acquisition.kind == "tar" and result.acquisition.entry == header.name
    back, _ = read(materialize(hub, result.acquisition, tmp_path / "cache"))  # readable without the source
    np.testing.assert_array_equal(back, original)
    same = hub.add_file(header.with_suffix(".img"), sample_id="c1", modality="cube")  # the data file alone
    assert not same.created and same.acquisition.blob == result.acquisition.blob
