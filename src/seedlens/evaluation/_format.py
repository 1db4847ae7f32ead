"""Turn metrics into readable (name, value, meaning) rows, shared by the HTML report and the console table."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from seedlens.evaluation.results import DetectionMetrics

# key -> (display name, what it means); keys not listed are shown as given.
_KNOWN: dict[str, tuple[str, str]] = {
    "image_auroc": ("Image AUROC", "ROC AUC of sample scores, anomalous = positive"),
    "pixel_auroc": ("Pixel AUROC", "ROC AUC over all pixels/voxels pooled, at ground-truth resolution"),
    "pixel_auroc_in_mask": ("Pixel AUROC in object", "pixel AUROC counting only pixels inside the object masks"),
    "aupro": ("AUPRO (FPR ≤ 0.3)", "area under the per-region-overlap curve up to FPR 0.3, / 0.3"),
    "f1": ("F1 at threshold", "F1 at the threshold fitted without test labels"),
    "f1_max": ("F1-max", "best F1 over all thresholds (uses test labels: optimistic)"),
    "f1_max_threshold": ("F1-max threshold", "threshold reaching F1-max"),
    "threshold": ("Threshold", "score >= threshold is predicted anomalous"),
    "false_positive_rate": ("False positive rate", "fraction of normal samples flagged at the threshold"),
    "n_normal": ("Normal samples", ""),
    "n_anomalous": ("Anomalous samples", ""),
    "counts": ("Samples per label", ""),
    "score_pooling": ("Score pooling", "how a map became a sample score"),
    "mae": ("MAE", "mean absolute error"),
    "r2": ("R²", "coefficient of determination"),
    "macro_f1": ("Macro F1", "unweighted mean of per-class F1"),
    "balanced_accuracy": ("Balanced accuracy", "mean per-class recall"),
}


def format_value(value: Any) -> str:
    """A short human-readable rendering: 4 decimals for floats, ``—`` for None."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return f"{value:.4f}" if abs(value) < 1e5 else f"{value:.4g}"
    if isinstance(value, Mapping):
        return ", ".join(f"{k}: {format_value(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(format_value(v) for v in value)
    return str(value)


def metric_rows(metrics: Mapping[str, Any] | DetectionMetrics) -> list[tuple[str, str, str]]:
    """Rows ``(name, value, meaning)`` in a stable order: known metrics first, then the rest as given."""
    data = metrics.to_dict() if isinstance(metrics, DetectionMetrics) else dict(metrics)
    keys = [k for k in _KNOWN if k in data] + [k for k in data if k not in _KNOWN]
    rows = []
    for key in keys:
        name, meaning = _KNOWN.get(key, (str(key), ""))
        rows.append((name, format_value(data[key]), meaning))
    return rows
