"""Calibration: the decision threshold and the heatmap statistics a fitted detector keeps, from held-out normals."""

from __future__ import annotations

from typing import Any

import numpy as np

#: Most heatmap values one validation sample contributes to the global heatmap statistics (a strided subsample).
MAP_VALUES_PER_SAMPLE = 1_000_000


def map_values(heatmap: np.ndarray) -> np.ndarray:
    """A bounded, deterministic subsample (every k-th value) of one heatmap's values, float32 ``(K,)``."""
    flat = np.asarray(heatmap, dtype=np.float32).reshape(-1)
    if flat.size > MAP_VALUES_PER_SAMPLE:
        flat = flat[:: -(-flat.size // MAP_VALUES_PER_SAMPLE)]
    return flat


def threshold(scores: np.ndarray, config: Any) -> float:
    """``config.threshold`` if set, else the ``config.threshold_quantile`` quantile of normal validation scores."""
    if config.threshold is not None:
        return float(config.threshold)
    return float(np.quantile(np.asarray(scores, dtype=np.float64), config.threshold_quantile))


def normalizer(values: list[np.ndarray], quantile: float) -> Any:
    """The :class:`~seedlens.explain.GlobalNormalizer` of the pooled heatmap values of normal validation samples."""
    from seedlens.explain import GlobalNormalizer

    pooled = np.concatenate([v.reshape(-1) for v in values]).reshape(1, 1, -1)
    return GlobalNormalizer().fit(pooled, quantile=quantile)
