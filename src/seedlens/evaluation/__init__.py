"""seedlens.evaluation: metrics (image AUROC, pixel/voxel AUROC, AUPRO, F1; regression), results, plots, reports.

Labels: 1 = anomalous (positive), 0 = normal. Scores: higher = more anomalous; ``score >= threshold``
is predicted anomalous (:func:`is_anomalous`, the one implementation of that rule).
"""

from seedlens.evaluation.decision import is_anomalous
from seedlens.evaluation.metrics import (
    aupro,
    balanced_accuracy,
    f1_at_threshold,
    f1_max,
    false_positive_rate,
    image_auroc,
    macro_f1,
    mae,
    pixel_auroc,
    pro_curve,
    r2,
    threshold_from_normals,
)
from seedlens.evaluation.plots import plot_roc, plot_score_histogram
from seedlens.evaluation.report import print_metrics_table, write_report_html
from seedlens.evaluation.results import DetectionMetrics, compute_detection_metrics

__all__ = [
    "DetectionMetrics",
    "aupro",
    "balanced_accuracy",
    "compute_detection_metrics",
    "f1_at_threshold",
    "f1_max",
    "false_positive_rate",
    "image_auroc",
    "is_anomalous",
    "macro_f1",
    "mae",
    "pixel_auroc",
    "plot_roc",
    "plot_score_histogram",
    "print_metrics_table",
    "pro_curve",
    "r2",
    "threshold_from_normals",
    "write_report_html",
]
