"""Tiny runs and a tiny hub for the viewer tests: a 3D FCDD on 16³ phantoms, RX on 16-band cubes, both evaluated."""

from __future__ import annotations

import csv
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from seedlens.hub.testing import live_server  # noqa: F401 - a fixture, registered by name


@dataclass
class EvaluatedRun:
    run: Path
    manifest: Path
    detector: Any


def _evaluated(root: Path, modality: str, detector: Any, **sizes: int) -> EvaluatedRun:
    from seedlens.data import open_source
    from seedlens.data.synthetic import write_seed_dataset
    from seedlens.workflows.evaluate import evaluate_detector

    manifest = write_seed_dataset(root / "data", modality=modality, n_train=4, n_val_normal=2, n_val_anomalous=1,
                                  n_test_normal=2, n_test_anomalous=2, size=16, seed=0, **sizes)
    source = open_source(manifest)
    detector.fit(source)
    detector.save(root / "run")
    evaluate_detector(detector, source, root / "run", gallery=0)
    return EvaluatedRun(root / "run", manifest, detector)


@pytest.fixture(scope="session")
def volume_run(tmp_path_factory: pytest.TempPathFactory) -> EvaluatedRun:
    """A 3D FCDD trained one pass on four 16³ phantoms and evaluated on four (two with defect masks)."""
    from seedlens.detectors import FCDD

    return _evaluated(tmp_path_factory.mktemp("volume"), "volume",
                      FCDD(epochs=1, batch_size=4, device="cpu", seed=0))


@pytest.fixture(scope="session")
def cube_run(tmp_path_factory: pytest.TempPathFactory) -> EvaluatedRun:
    """RX fitted on four 16-band 16 × 16 cubes and evaluated on four."""
    from seedlens.detectors import create_detector

    return _evaluated(tmp_path_factory.mktemp("cube"), "cube", create_detector("rx"), bands=16)


@dataclass
class ServedHub:
    hub: Any
    read_token: str
    model: str
    scans: dict[str, Path]


@pytest.fixture
def ui_hub(tmp_path: Path, volume_run: EvaluatedRun) -> Iterator[ServedHub]:
    """A SQLite hub holding the volume run's test scans (germination normal / dead) and its predictions."""
    from seedlens.hub.hub import Hub
    from seedlens.io import read

    hub = Hub.init(tmp_path / "hub")
    scans = tmp_path / "scans"
    scans.mkdir()
    rows, found = [], {}
    for file in sorted((volume_run.manifest.parent / "test").glob("*.nii.gz")):
        sample_id = file.name.split(".")[0]
        found[sample_id] = shutil.copy(file, scans / file.name)
        rows.append({"sample_id": sample_id, "germination": "normal" if "normal" in sample_id else "dead"})
    with (tmp_path / "labels.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["sample_id", "germination"])
        writer.writeheader()
        writer.writerows(rows)
    hub.import_dir(scans, "volume", labels=tmp_path / "labels.csv")
    detector = volume_run.detector
    model = hub.register_model({"detector": detector.name}, {"threshold": detector.threshold_}, name="vol-run",
                               modality="volume")
    predictions = []
    for sample_id, file in found.items():
        array, meta = read(file)
        scores, maps = detector.score_and_explain([array], spacing=[meta.voxel_size])
        predictions.append((sample_id, float(scores[0]), maps[0]))
    hub.write_predictions(model, predictions)
    _, token = hub.create_token("viewer", "read")
    yield ServedHub(hub, token, model.uid, {k: Path(v) for k, v in found.items()})
    hub.close()


@pytest.fixture(scope="session")
def fusion_run(seedlens, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A fusion model (CT, cube, RGB, weight → germination, oil content) trained two passes: (manifest, run)."""
    from seedlens.data.synthetic.multimodal import write_multimodal_dataset

    root = tmp_path_factory.mktemp("fusion")
    manifest = write_multimodal_dataset(root / "data", n_train=16, n_val=4, n_test=4, seed=0, ct_size=16,
                                        hsi_size=16, bands=8, rgb_size=16, missing_fraction=0.2)
    seedlens("fusion", "train", manifest, "--target", "germination", "--target", "oil_content",
             "--modalities", "ct,hsi,rgb,weight", "--out", root / "run", "--epochs", "2", "--device", "cpu",
             "--no-progress")
    return manifest, root / "run"
