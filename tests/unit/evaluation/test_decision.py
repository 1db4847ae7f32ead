"""The one decision rule, score >= threshold, and the metrics that apply it at a score equal to the threshold."""

from __future__ import annotations

import numpy as np
import pytest

from seedlens.errors import ConfigError
from seedlens.evaluation import compute_detection_metrics, is_anomalous


def test_a_score_equal_to_the_threshold_is_anomalous():
    np.testing.assert_array_equal(is_anomalous([0.2, 0.5, 0.7], 0.5), [False, True, True])
    assert is_anomalous(np.float32(3.0), 3.0).item() is True


def test_float32_scores_are_compared_with_the_threshold_itself():
    score = np.float32(0.1)  # 0.100000001490116..., above the float64 0.1 and equal to it once rounded to float32
    assert is_anomalous(np.array([score]), float(score))[0]
    assert is_anomalous(np.array([score]), 0.1)[0]
    assert not is_anomalous(np.array([score]), float(score) + 1e-12)[0]  # float32 rounding would say True


def test_a_nan_score_is_never_anomalous_and_a_nan_threshold_is_refused():
    assert not is_anomalous([np.nan], 0.0)[0]
    with pytest.raises(ConfigError, match="threshold must be a number; got nan"):
        is_anomalous([1.0], float("nan"))
    with pytest.raises(ConfigError, match="threshold must be a number; got 'high'"):
        is_anomalous([1.0], "high")  # type: ignore[arg-type]


def test_detection_metrics_count_a_score_at_the_threshold_as_flagged():
    labels = [0, 0, 0, 1, 1]
    scores = [0.1, 0.2, 0.6, 0.6, 0.9]
    metrics = compute_detection_metrics(labels, scores, threshold=0.6)
    assert metrics.false_positive_rate == pytest.approx(1 / 3)  # the normal at 0.6
    assert metrics.f1 == pytest.approx(2 * 2 / (2 * 2 + 1 + 0))  # both anomalies found, one false alarm
    # F1-max's threshold reproduces F1-max under the same rule
    assert compute_detection_metrics(labels, scores, threshold=metrics.f1_max_threshold).f1 == pytest.approx(
        metrics.f1_max)
