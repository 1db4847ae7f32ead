"""`seedlens export` end to end: train, export, then score with onnxruntime and numpy alone as `seedlens score` does."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from seedlens.data.synthetic import write_seed_dataset

ort = pytest.importorskip("onnxruntime", reason="the onnx extra is part of the test install")
Image = pytest.importorskip("PIL.Image")




@pytest.fixture(scope="module")
def image_run(seedlens, tmp_path_factory):
    root = tmp_path_factory.mktemp("export")
    manifest = write_seed_dataset(root / "data", modality="image", n_train=8, n_val_normal=3, n_val_anomalous=1,
                                  n_test_normal=2, n_test_anomalous=2, size=32, seed=0)
    run = root / "run"
    seedlens("train", manifest, "--out", run, "--detector", "fcdd", "--epochs", "1", "--image-size", "32",
             "--device", "cpu", "--no-progress")
    return manifest, run


def _preprocess(path: Path, spec: dict) -> np.ndarray:
    """One image preprocessed by following the sidecar alone (numpy; no seedlens)."""
    with Image.open(path) as image:
        x = np.asarray(image).astype(np.float32)
    x = x[None] if x.ndim == 2 else x.transpose(2, 0, 1)  # channel-first
    pre = spec["preprocessing"]["preprocessor"]
    if x.shape[0] != spec["in_channels"]:
        x = np.repeat(x, spec["in_channels"], axis=0) if x.shape[0] == 1 else x.mean(axis=0, keepdims=True)
    assert pre["spacing"] is None and pre["keep_aspect"]  # the grid step, for the case this test needs:
    factor = min(s / n for s, n in zip(pre["size"], x.shape[1:], strict=True))
    fitted = [min(s, max(1, round(n * factor))) for s, n in zip(pre["size"], x.shape[1:], strict=True)]
    assert fitted == list(x.shape[1:]) == pre["size"]  # a 32² image fits 32² as it is: no interpolation, no padding
    rule = spec["preprocessing"]["intensity"]
    assert rule["rule"] == "contrast"
    centre = x.mean()
    spread = np.abs(x - centre).mean()
    x = ((x - centre) / spread - rule["lo"]) / (rule["hi"] - rule["lo"])
    assert all(n % spec["input"]["spatial_multiple"] == 0 for n in x.shape[1:])  # nothing to pad
    return x.astype(np.float32)


def test_an_exported_run_scores_files_like_seedlens_score_with_onnxruntime_and_numpy_only(
    seedlens, image_run, tmp_path
):
    manifest, run = image_run
    result = seedlens("export", run, "--format", "onnx", "--out", tmp_path / "model.onnx")
    assert f"wrote {tmp_path / 'model.onnx'}" in result.stderr.replace("\n", "")
    assert (tmp_path / "model.onnx").is_file() and (tmp_path / "model.json").is_file()
    spec = json.loads((tmp_path / "model.json").read_text())
    images = [manifest.parent / "test" / name for name in ("0000_normal.png", "0002_crack.png")]
    x = np.stack([_preprocess(p, spec) for p in images])
    scores, heatmaps = ort.InferenceSession(str(tmp_path / spec["onnx"]["file"])).run(["scores", "heatmaps"],
                                                                                      {"x": x})
    assert heatmaps.shape == (2, 1, 32, 32)
    expected = [json.loads(line) for line in seedlens("score", run, *images, "--json").stdout.splitlines()]
    np.testing.assert_allclose(scores, [e["score"] for e in expected], rtol=1e-4, atol=1e-6)
    threshold = spec["decision"]["threshold"]
    assert [bool(s >= threshold) for s in scores] == [e["anomalous"] for e in expected]


def test_an_unknown_format_and_a_detector_without_a_network_are_one_clear_line(seedlens, image_run, tmp_path):
    _, run = image_run
    result = seedlens("export", run, "--format", "tflite", "--out", tmp_path / "m.tflite", check=False)
    assert result.returncode == 2 and "unknown export format 'tflite'; expected one of: onnx" in result.stderr
    from seedlens.detectors import RX

    cubes = np.random.default_rng(0).random((4, 6, 8, 8), dtype=np.float32)
    RX().fit(cubes).save(tmp_path / "rx")
    result = seedlens("export", tmp_path / "rx", "--out", tmp_path / "rx.onnx", check=False)
    assert result.returncode == 2 and "detector 'rx' has no network to export" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "rx.onnx").exists()
