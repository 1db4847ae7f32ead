"""The one decision rule of seedlens: a sample is anomalous when its score reaches the threshold.

``Detector.predict``, ``seedlens score``, the metrics at a threshold (F1, false positive rate) and the ROC plot's
operating point all call :func:`is_anomalous`, so a score equal to the threshold is flagged everywhere alike.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from seedlens.errors import ConfigError

__all__ = ["is_anomalous"]


def is_anomalous(scores: Any, threshold: float) -> np.ndarray:
    """Return which samples are predicted anomalous: ``score >= threshold``.

    Args:
        scores: Anomaly scores of any shape (usually ``(N,)``), higher = more anomalous; a NaN score is never
            anomalous.
        threshold: The decision threshold, e.g. a detector's fitted ``threshold_``.

    Returns:
        A bool array of the shape of ``scores``. Scores are compared in float64, so a float32 score is compared with
        the threshold itself, not with the threshold rounded to float32.

    Raises:
        ConfigError: ``threshold`` is NaN or not a number.
    """
    try:
        value = float(threshold)
    except (TypeError, ValueError):
        raise ConfigError(f"threshold must be a number; got {threshold!r}") from None
    if math.isnan(value):
        raise ConfigError(f"threshold must be a number; got {threshold!r}")
    return np.asarray(np.asarray(scores, dtype=np.float64) >= value)
