"""ONNX export: one graph per detector, exact at other batch and spatial sizes, with a sidecar saying how to feed it."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
import torch

from seedlens.data.transforms import Preprocessor
from seedlens.detectors import FCDD, HSC, KNN, RX, Autoencoder
from seedlens.errors import ConfigError, ExportError, NotFittedError
from seedlens.inference import export_onnx

ort = pytest.importorskip("onnxruntime", reason="the onnx extra is part of the test install")

TINY = {"epochs": 1, "batch_size": 4, "device": "cpu", "seed": 0, "patch_size": 16}
#: (detector, training arrays, spatial size of the scans exported graphs are checked on).
CASES = {
    "image": (lambda: FCDD(**TINY, backbone="conv2d", backbone_options={"channels": [4, 8, 8]}), (1, 24, 24), (40, 52)),
    "volume": (lambda: FCDD(**TINY, backbone_options={"channels": [4, 8, 8]}), (1, 16, 16, 16), (40, 56, 48)),
    "cube": (lambda: FCDD(**TINY, modality="cube", backbone_options={"spectral_channels": [8],
                                                                     "spatial_channels": [8, 8, 8]}),
             (12, 16, 16), (40, 52)),
    "autoencoder": (lambda: Autoencoder(**TINY, base_channels=4, depth=2), (1, 24, 24), (40, 52)),
}


def _fit(kind: str):
    make, shape, _ = CASES[kind]
    rng = np.random.default_rng(0)
    return make().fit(rng.normal(size=(6, *shape)).astype(np.float32), progress=False)


@pytest.fixture(scope="module", params=list(CASES))
def exported(request, tmp_path_factory):
    detector = _fit(request.param)
    onnx_path, json_path = export_onnx(detector, tmp_path_factory.mktemp(request.param) / "model.onnx")
    return request.param, detector, onnx_path, json_path


def _scans(detector, size: tuple[int, ...], n: int) -> np.ndarray:
    """``n`` raw scans of another spatial size than training, preprocessed by the detector: the graph's input."""
    rng = np.random.default_rng(n)
    raws = rng.normal(size=(n, detector.in_channels_, *size)).astype(np.float32)
    return np.stack([detector.preprocessor_(raw) for raw in raws]), raws


@pytest.mark.parametrize("n", [1, 3])
def test_the_graph_equals_the_scoring_module_at_other_batch_and_spatial_sizes(exported, n):
    kind, detector, onnx_path, _ = exported
    size = CASES[kind][2]
    x, raws = _scans(detector, size, n)
    assert x.shape[2:] == size and size != tuple(detector.input_size_)
    scores, heatmaps = ort.InferenceSession(str(onnx_path)).run(["scores", "heatmaps"], {"x": x})
    with torch.no_grad():
        want_scores, want_heatmaps = (t.numpy() for t in detector.scoring_module()(torch.from_numpy(x)))
    assert scores.shape == (n,) and heatmaps.shape == (n, 1, *size)
    np.testing.assert_allclose(scores, want_scores, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(heatmaps, want_heatmaps, rtol=1e-4, atol=1e-6)
    if detector.scoring_module().cells:  # FCDD: one pass is what seedlens's stitched windows give
        np.testing.assert_allclose(scores, detector.score(list(raws)), rtol=1e-4, atol=1e-6)


def test_the_sidecar_tells_the_input_multiple_the_threshold_and_the_preprocessing(exported):
    kind, detector, onnx_path, json_path = exported
    sidecar = json.loads(json_path.read_text())
    assert json_path == onnx_path.with_suffix(".json") and sidecar["onnx"]["file"] == onnx_path.name
    assert sidecar["format"] == "seedlens-onnx" and sidecar["format_version"] == 1
    assert sidecar["detector"] == detector.name and sidecar["modality"] == detector.modality_.value
    assert sidecar["in_channels"] == detector.in_channels_ == sidecar["input"]["channels"]
    assert sidecar["input"]["spatial_multiple"] == detector.input_multiple == 4
    assert sidecar["decision"] == {"threshold": detector.threshold_, "rule": "anomalous = score >= threshold"}
    assert sidecar["score_pooling"]["method"] == detector.score_pooling_
    assert sidecar["patch_size"] == list(detector.input_size_) and sidecar["window_size"] == list(detector.window_size_)
    assert sidecar["plan"] == detector.plan_
    assert Preprocessor.from_dict(sidecar["preprocessing"]["preprocessor"]) == detector.preprocessor_
    assert sidecar["preprocessing"]["steps"] and all(isinstance(s, str) for s in sidecar["preprocessing"]["steps"])
    assert sidecar["verified"]["max_relative_error"]["scores"] <= 1e-4
    # the intensity rule from the sidecar's numbers alone, in numpy, gives the detector's preprocessing
    raw = np.random.default_rng(7).normal(size=(detector.in_channels_, *CASES[kind][2])).astype(np.float32)
    np.testing.assert_allclose(_intensity(sidecar["preprocessing"]["intensity"], raw), detector.preprocessor_(raw),
                               rtol=1e-5, atol=1e-5)


def _intensity(rule: dict, x: np.ndarray) -> np.ndarray:
    """The sidecar's intensity formula in numpy."""
    if rule["rule"] == "contrast":
        centre = x.mean()
        spread = np.abs(x - centre).mean()
        return ((x - centre) / spread - rule["lo"]) / (rule["hi"] - rule["lo"])
    view = (-1,) + (1,) * (x.ndim - 1)
    low, high = (np.array([np.nan if v is None else v for v in rule[k]]).reshape(view) for k in ("low", "high"))
    clipped = np.clip(x, np.where(np.isnan(low), -np.inf, low), np.where(np.isnan(high), np.inf, high))
    return clipped * np.array(rule["scale"]).reshape(view) + np.array(rule["offset"]).reshape(view)


def test_hsc_exports_its_scores_and_says_its_heatmaps_are_the_score_broadcast(tmp_path):
    rng = np.random.default_rng(0)
    detector = HSC(**TINY, feature_dim=8).fit(rng.normal(size=(6, 1, 24, 24)).astype(np.float32), progress=False)
    onnx_path, json_path = export_onnx(detector, tmp_path / "hsc.onnx")
    x, _ = _scans(detector, (32, 40), 2)
    scores, heatmaps = ort.InferenceSession(str(onnx_path)).run(["scores", "heatmaps"], {"x": x})
    with torch.no_grad():
        want = detector.scoring_module()(torch.from_numpy(x))[0].numpy()
    np.testing.assert_allclose(scores, want, rtol=1e-4, atol=1e-6)
    # the broadcast is of the score field, the score its float32 mean: equal to float32 rounding
    np.testing.assert_allclose(heatmaps, np.broadcast_to(scores[:, None, None, None], heatmaps.shape), rtol=1e-5)
    assert "score broadcast" in json.loads(json_path.read_text())["outputs"]["heatmaps"]["meaning"]


@pytest.mark.parametrize("detector", [KNN(), RX()], ids=["knn", "rx"])
def test_detectors_without_a_network_are_refused_with_what_can_be_exported(tmp_path, detector):
    with pytest.raises(ConfigError, match=rf"detector '{detector.name}' has no network.*autoencoder, fcdd, hsc"):
        export_onnx(detector, tmp_path / "model.onnx")
    assert not list(tmp_path.iterdir())


def test_an_unfitted_detector_a_json_target_and_a_missing_extra_are_clear_errors(tmp_path, monkeypatch):
    with pytest.raises(NotFittedError):
        export_onnx(FCDD(), tmp_path / "model.onnx")
    detector = _fit("autoencoder")
    with pytest.raises(ConfigError, match=r"must not end in \.json"):
        export_onnx(detector, tmp_path / "model.json")
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import fails as if not installed
    with pytest.raises(ExportError, match=r"pip install 'seedlens\[onnx\]'"):
        export_onnx(detector, tmp_path / "model.onnx")
    assert not list(tmp_path.iterdir())
