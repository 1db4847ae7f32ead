"""The typed result of evaluating a detector on labelled samples, and the function that computes it."""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from seedlens.errors import ConfigError, ShapeError
from seedlens.evaluation import metrics as m
from seedlens.evaluation._checks import labels_and_scores

__all__ = ["DetectionMetrics", "compute_detection_metrics"]


@dataclass
class DetectionMetrics:
    """Detection (and, when ground-truth maps are given, localisation) metrics of one evaluation.

    Attributes:
        image_auroc: Sample-level ROC AUC, anomalous = positive.
        f1: F1 at ``threshold`` (a threshold fitted without test labels).
        f1_max: Best F1 over all thresholds (peeks at the test labels: optimistic).
        f1_max_threshold: The threshold reaching ``f1_max``.
        threshold: The decision threshold used for ``f1`` and ``false_positive_rate``.
        false_positive_rate: Fraction of normal samples with ``score >= threshold``.
        n_normal: Number of normal samples.
        n_anomalous: Number of anomalous samples.
        counts: Samples per label name (e.g. ``{"noncovid": 120, "covid": 98}``).
        pixel_auroc: Pooled pixel/voxel ROC AUC, or None without ground-truth maps.
        pixel_auroc_in_mask: Pixel ROC AUC inside the object masks, or None without object masks.
        aupro: Area under the PRO curve up to FPR 0.3 (normalised), or None without ground-truth maps.
        score_pooling: How a map became a sample score (``"mean"``, ``"topk_mean"``, ``"max"``...), or None.
    """

    image_auroc: float
    f1: float
    f1_max: float
    f1_max_threshold: float
    threshold: float
    false_positive_rate: float
    n_normal: int
    n_anomalous: int
    counts: dict[str, int] = field(default_factory=dict)
    pixel_auroc: float | None = None
    pixel_auroc_in_mask: float | None = None
    aupro: float | None = None
    score_pooling: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict of every field (``None`` for metrics not computed)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DetectionMetrics:
        """Rebuild from :meth:`to_dict` output.

        Raises:
            ConfigError: when a key is unknown or a required one is missing (the known keys are listed).
        """
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown DetectionMetrics field(s) {unknown}; known: {', '.join(sorted(known))}")
        required = {
            f.name
            for f in dataclasses.fields(cls)
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        }
        missing = sorted(required - set(data))
        if missing:
            raise ConfigError(f"DetectionMetrics data lacks required field(s) {missing}")
        values = dict(data)
        values["counts"] = {str(k): int(v) for k, v in dict(values.get("counts") or {}).items()}
        return cls(**values)


def compute_detection_metrics(
    labels: Any,
    scores: Any,
    threshold: float,
    label_names: Sequence[str] | None = None,
    masks: Sequence[Any] | None = None,
    maps: Sequence[Any] | None = None,
    object_masks: Sequence[Any] | None = None,
    *,
    score_pooling: str | None = None,
    max_fpr: float = 0.3,
) -> DetectionMetrics:
    """Compute every detection metric, plus localisation metrics when ground-truth maps are given.

    Args:
        labels: ``(N,)`` 0/1 or bool, 1 = anomalous.
        scores: ``(N,)`` sample anomaly scores, higher = more anomalous.
        threshold: Decision threshold fitted without test labels (e.g. :func:`threshold_from_normals`).
        label_names: Optional ``(N,)`` label names (e.g. ``"covid"``) for the per-label ``counts``;
            default counts ``"normal"`` / ``"anomalous"``.
        masks: Optional per-sample ground truth ``(*spatial)`` or ``(1, *spatial)``; ``None`` entries
            are all normal. Needs ``maps``.
        maps: Optional per-sample anomaly maps at the ground truth's resolution. Needs ``masks``.
        object_masks: Optional per-sample object masks for ``pixel_auroc_in_mask``. Needs masks and maps.
        score_pooling: Recorded as given: how sample scores were pooled from maps.
        max_fpr: FPR limit of AUPRO.

    Returns:
        The filled :class:`DetectionMetrics`.

    Raises:
        ConfigError: when labels hold one class only, or masks are given without maps (or vice versa).
        ShapeError: when lengths or map/mask shapes differ.
    """
    y, s = labels_and_scores(labels, scores)
    if label_names is not None:
        if len(label_names) != y.size:
            raise ShapeError(f"label_names must have one name per sample ({y.size}); got {len(label_names)}")
        counts = dict(sorted(Counter(str(n) for n in label_names).items()))
    else:
        counts = {"normal": int((~y).sum()), "anomalous": int(y.sum())}
    if (masks is None) != (maps is None):
        raise ConfigError("pixel metrics need both masks and maps; got only one of them")
    if object_masks is not None and masks is None:
        raise ConfigError("object_masks need masks and maps as well")
    if masks is not None and len(masks) != y.size:
        raise ShapeError(f"masks must have one entry per sample ({y.size}); got {len(masks)}")
    best_f1, best_threshold = m.f1_max(y, s)
    result = DetectionMetrics(
        image_auroc=m.image_auroc(y, s),
        f1=m.f1_at_threshold(y, s, threshold),
        f1_max=best_f1,
        f1_max_threshold=best_threshold,
        threshold=float(threshold),
        false_positive_rate=m.false_positive_rate(y, s, threshold),
        n_normal=int((~y).sum()),
        n_anomalous=int(y.sum()),
        counts=counts,
        score_pooling=score_pooling,
    )
    if masks is not None and maps is not None:
        result.pixel_auroc = m.pixel_auroc(masks, maps)
        result.aupro = m.aupro(masks, maps, max_fpr=max_fpr)
        if object_masks is not None:
            result.pixel_auroc_in_mask = m.pixel_auroc(masks, maps, region=object_masks)
    return result
