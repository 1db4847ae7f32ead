"""DetectionMetrics and compute_detection_metrics."""

from __future__ import annotations

import json

import numpy as np
import pytest

from seedlens.errors import ConfigError, ShapeError
from seedlens.evaluation import DetectionMetrics, aupro, compute_detection_metrics, image_auroc, pixel_auroc


def _case():
    rng = np.random.default_rng(3)
    y = np.r_[np.zeros(20, int), np.ones(10, int)]
    s = np.r_[rng.normal(0, 1, 20), rng.normal(2, 1, 10)]
    masks, maps, objects = [], [], []
    for label in y:
        mask = np.zeros((16, 16), bool)
        if label:
            mask[4:8, 4:8] = True
        obj = np.zeros((16, 16), bool)
        obj[2:14, 2:14] = True
        masks.append(mask)
        maps.append(np.where(obj, rng.normal(0, 1, (16, 16)) + 1.5 * mask, -3.0)[None])  # (1, H, W)
        objects.append(obj)
    return y, s, masks, maps, objects


def test_compute_detection_metrics_fills_every_field():
    y, s, masks, maps, objects = _case()
    names = ["ok"] * 20 + ["cracked"] * 10
    result = compute_detection_metrics(
        y, s, 1.0, label_names=names, masks=masks, maps=maps, object_masks=objects, score_pooling="topk_mean"
    )
    assert result.image_auroc == pytest.approx(image_auroc(y, s))
    assert result.threshold == 1.0
    assert result.f1_max >= result.f1
    assert (result.n_normal, result.n_anomalous) == (20, 10)
    assert result.counts == {"cracked": 10, "ok": 20}
    assert result.pixel_auroc == pytest.approx(pixel_auroc(masks, maps))
    assert result.pixel_auroc_in_mask == pytest.approx(pixel_auroc(masks, maps, region=objects))
    assert result.pixel_auroc > result.pixel_auroc_in_mask
    assert result.aupro == pytest.approx(aupro(masks, maps))
    assert result.false_positive_rate == pytest.approx(np.mean(s[:20] >= 1.0))
    assert result.score_pooling == "topk_mean"


def test_optional_metrics_are_none_without_maps_and_counts_default_to_normal_anomalous():
    y, s, *_ = _case()
    result = compute_detection_metrics(y, s, 0.5)
    assert result.pixel_auroc is None and result.pixel_auroc_in_mask is None and result.aupro is None
    assert result.counts == {"normal": 20, "anomalous": 10}


def test_to_dict_from_dict_round_trip_through_json():
    y, s, masks, maps, _ = _case()
    result = compute_detection_metrics(y, s, 0.5, masks=masks, maps=maps)
    data = json.loads(json.dumps(result.to_dict()))
    assert DetectionMetrics.from_dict(data) == result
    with pytest.raises(ConfigError, match=r"unknown DetectionMetrics field.*'auc'"):
        DetectionMetrics.from_dict({**data, "auc": 1.0})
    del data["image_auroc"]
    with pytest.raises(ConfigError, match="image_auroc"):
        DetectionMetrics.from_dict(data)


def test_compute_detection_metrics_input_errors():
    y, s, masks, maps, _ = _case()
    with pytest.raises(ConfigError, match="both masks and maps"):
        compute_detection_metrics(y, s, 0.5, masks=masks)
    with pytest.raises(ShapeError, match="one entry per sample"):
        compute_detection_metrics(y, s, 0.5, masks=masks[:3], maps=maps[:3])
    with pytest.raises(ShapeError, match="label_names"):
        compute_detection_metrics(y, s, 0.5, label_names=["a"])
    with pytest.raises(ValueError, match="got 20 normal and 0 anomalous"):
        compute_detection_metrics(y[:20], s[:20], 0.5)
