"""Metrics of a fusion model per target, for all modalities and for subsets of them."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations
from typing import TYPE_CHECKING, Any

import numpy as np

from seedlens.evaluation.metrics import balanced_accuracy, image_auroc, macro_f1, mae, r2
from seedlens.predictors.data import FusionData
from seedlens.predictors.schema import TargetSpec
from seedlens.types import label_text

if TYPE_CHECKING:
    from seedlens.predictors.predictor import FusionPredictor

#: With at most this many modalities every non-empty subset is evaluated; beyond, single ones and leave-one-out.
ALL_SUBSETS_UP_TO = 5


def classification_metrics(truth: Sequence[str], probabilities: np.ndarray, classes: Sequence[str]) -> dict[str, Any]:
    """Macro-F1, balanced accuracy, accuracy, per-class one-vs-rest AUROC and class counts.

    Args:
        truth: ``(N,)`` true class names.
        probabilities: ``(N, K)`` predicted probabilities over ``classes``.
        classes: The model's classes.
    """
    predicted = [classes[k] for k in np.asarray(probabilities).argmax(axis=1)]
    auroc: dict[str, float | None] = {}
    for k, name in enumerate(classes):
        positives = np.asarray([t == name for t in truth])
        auroc[name] = image_auroc(positives, probabilities[:, k]) if 0 < positives.sum() < len(truth) else None
    return {
        "macro_f1": macro_f1(truth, predicted),
        "balanced_accuracy": balanced_accuracy(truth, predicted),
        "accuracy": float(np.mean([t == p for t, p in zip(truth, predicted, strict=True)])),
        "auroc": auroc,
        "counts": {name: int(sum(t == name for t in truth)) for name in sorted(set(truth) | set(classes))},
        "n": len(truth),
    }


def regression_metrics(truth: np.ndarray, predicted: np.ndarray) -> dict[str, Any]:
    """MAE, RMSE and R² of a trait."""
    return {
        "mae": mae(truth, predicted),
        "rmse": float(np.sqrt(np.mean((np.asarray(truth) - np.asarray(predicted)) ** 2))),
        "r2": r2(truth, predicted) if len(truth) >= 2 else None,
        "n": len(truth),
    }


def target_metrics(target: TargetSpec, data: FusionData, prediction: dict[str, Any]) -> dict[str, Any]:
    """Metrics of one target over the samples of ``data`` that have a value for it."""
    values = [s.values.get(target.name) for s in data.samples]
    keep = [i for i, v in enumerate(values) if v is not None]
    if not keep:
        return {"n": 0}
    if target.task == "classification":
        truth = [label_text(values[i]) for i in keep]
        return classification_metrics(truth, prediction["probabilities"][keep], target.classes)
    truth_values = np.asarray([float(values[i]) for i in keep])  # type: ignore[arg-type]
    return regression_metrics(truth_values, np.asarray(prediction["values"])[keep])


def modality_subsets(names: Sequence[str]) -> list[tuple[str, ...]]:
    """Modality subsets :func:`evaluate` scores, the full set last.

    Every non-empty subset for up to :data:`ALL_SUBSETS_UP_TO` modalities, else each single modality and each
    leave-one-out set.
    """
    names = list(names)
    if len(names) <= ALL_SUBSETS_UP_TO:
        subsets = [c for r in range(1, len(names)) for c in combinations(names, r)]
    else:
        subsets = [(n,) for n in names] + [tuple(m for m in names if m != n) for n in names]
    return [*subsets, tuple(names)]


def headline(metrics: dict[str, Any]) -> float | None:
    """The main number of a target's metrics: macro-F1 for a class target, R² for a trait."""
    return metrics.get("macro_f1", metrics.get("r2"))


def evaluate(model: FusionPredictor, data: FusionData) -> dict[str, Any]:
    """Evaluate ``model`` on ``data`` (usually its ``test`` split).

    Returns:
        ``{"n_samples", "modalities", "targets": {target: metrics with all modalities},
        "subsets": {"ct+hsi": {target: headline}}, "without": {"ct": {target: headline}}}`` where the headline is
        macro-F1 for class targets and R² for traits; ``without`` masks one modality at inference.
    """
    names = model.modality_names
    inputs, present = model.encoder_.encode_inputs(data)
    embeddings = model.embed(inputs, present)  # once: each subset only masks modalities out
    full = model.predict_encoded(data, inputs, present, embeddings=embeddings)
    result: dict[str, Any] = {
        "n_samples": len(data),
        "modalities": names,
        "targets": {t.name: target_metrics(t, data, full[t.name]) for t in model.targets_},
        "subsets": {},
        "without": {},
    }
    for subset in modality_subsets(names):
        if len(subset) == len(names):
            prediction = full
        else:
            prediction = model.predict_encoded(data, inputs, present, list(subset), embeddings=embeddings)
        scores = {t.name: headline(target_metrics(t, data, prediction[t.name])) for t in model.targets_}
        result["subsets"]["+".join(subset)] = scores
        if len(subset) == len(names) - 1:
            (removed,) = set(names) - set(subset)
            result["without"][removed] = scores
    return result
