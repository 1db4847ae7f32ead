"""Detection, localisation, regression and classification metrics: numpy in, floats out.

Conventions used by every function here:

* Labels: ``0`` (or False) = normal, ``1`` (or True) = anomalous; anomalous is the positive class.
* Scores: higher = more anomalous. A sample is *predicted* anomalous when ``score >= threshold``.
* Ground-truth masks, anomaly maps and object masks are given per sample, as a sequence of arrays
  (or one stacked array, iterated over its first axis). Each entry is ``(*spatial)`` or
  ``(1, *spatial)``: ``(H, W)`` / ``(1, H, W)`` for images and cubes, ``(D, H, W)`` / ``(1, D, H, W)``
  for volumes. Shapes may differ between samples but a map must have its mask's shape: maps are
  compared at the ground truth's resolution, never resized here. Masks are binarised as
  ``value > 0.5`` (0/1, bool and 0/255 masks all work); a ``None`` mask means "no anomalous pixel".
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import ndimage
from sklearn.metrics import balanced_accuracy_score, f1_score, precision_recall_curve, r2_score, roc_auc_score

from seedlens.errors import ConfigError, ShapeError
from seedlens.evaluation._checks import (
    finite_scores,
    labels_and_scores,
    paired_maps,
    require_both_classes,
)
from seedlens.evaluation.decision import is_anomalous

__all__ = [
    "aupro",
    "balanced_accuracy",
    "f1_at_threshold",
    "f1_max",
    "false_positive_rate",
    "image_auroc",
    "macro_f1",
    "mae",
    "pixel_auroc",
    "pro_curve",
    "r2",
    "threshold_from_normals",
]


# --------------------------------------------------------------------------------------------- detection


def image_auroc(labels: Any, scores: Any) -> float:
    """ROC AUC of sample scores, anomalous (label 1) = positive.

    Args:
        labels: ``(N,)`` 0/1 or bool, 1 = anomalous.
        scores: ``(N,)`` finite anomaly scores, higher = more anomalous.

    Returns:
        The area under the ROC curve in [0, 1]; 0.5 is chance.

    Raises:
        ConfigError: (a ``ValueError``) when only one class is present (the message gives both counts),
            a label is not 0/1, or a score is not finite.
        ShapeError: when ``labels`` and ``scores`` are not 1-D of the same length.
    """
    y, s = labels_and_scores(labels, scores)
    require_both_classes(y, "image_auroc")
    return float(roc_auc_score(y, s))


def pixel_auroc(masks: Sequence[Any], maps: Sequence[Any], region: Sequence[Any] | None = None) -> float:
    """ROC AUC over all pixels (voxels) of all samples pooled, at the ground truth's resolution.

    With ``region`` (object masks, e.g. the seed or the lung), only pixels inside the object count
    ("pixel AUROC in mask"): background pixels are trivially normal and inflate the pooled figure.

    Args:
        masks: Per-sample ground truth, each ``(*spatial)`` or ``(1, *spatial)``; ``None`` = all normal.
        maps: Per-sample anomaly maps with the same shapes as ``masks``; higher = more anomalous.
        region: Optional per-sample object masks of the same shapes; ``None`` entries count the whole sample.

    Returns:
        The pooled pixel ROC AUC.

    Raises:
        ShapeError: when a map's shape differs from its mask's (both shapes are named) or the counts differ.
        ConfigError: when the pooled pixels hold only one class (the message gives both counts).
    """
    pairs = paired_maps(masks, maps, region)
    ys: list[np.ndarray] = []
    ss: list[np.ndarray] = []
    for mask, amap, obj in pairs:
        if obj is None:
            ys.append(mask.ravel())
            ss.append(amap.ravel())
        else:
            ys.append(mask[obj])
            ss.append(amap[obj])
    y = np.concatenate(ys)
    s = np.concatenate(ss)
    require_both_classes(y, "pixel_auroc" if region is None else "pixel_auroc inside the object masks")
    return float(roc_auc_score(y, s))


def pro_curve(
    masks: Sequence[Any],
    maps: Sequence[Any],
    *,
    region: Sequence[Any] | None = None,
    num_thresholds: int | None = None,
    connectivity: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The per-region-overlap (PRO) curve: mean region overlap against the false positive rate.

    Regions are the connected components of every sample's ground truth, found with
    ``scipy.ndimage.label``; a volume's components are 3-D, so a defect spanning several slices is one
    region. At a threshold ``t`` the overlap of a region is the fraction of its pixels with
    ``map >= t``; PRO is the unweighted mean over all regions of all samples; FPR is the fraction of
    normal pixels of all samples (inside ``region`` when given) with ``map >= t``.

    Args:
        masks: Per-sample ground truth, each ``(*spatial)`` or ``(1, *spatial)``; ``None`` = all normal.
        maps: Per-sample anomaly maps with the same shapes as ``masks``.
        region: Optional per-sample object masks; only normal pixels inside them count for the FPR.
        num_thresholds: ``None`` (default) evaluates the curve exactly at every distinct map value; an
            integer evaluates it at that many thresholds evenly spaced between the lowest and highest
            map value (coarser, smaller curve).
        connectivity: Which neighbours join a component, as in ``scipy.ndimage.generate_binary_structure``:
            1 = faces only (4-neighbourhood in 2-D, 6 in 3-D); ``None`` (default) = full (8 in 2-D,
            26 in 3-D), the connectivity of the MVTec AD evaluation.

    Returns:
        ``(fpr, pro)``: 1-D arrays of the same length, both non-decreasing, starting at ``(0, 0)``
        (threshold above every value) and ending at ``(1, 1)``.

    Raises:
        ShapeError: when a map's shape differs from its mask's.
        ConfigError: when there is no anomalous region or no normal pixel, or ``num_thresholds < 2``.
    """
    if num_thresholds is not None and (isinstance(num_thresholds, bool) or int(num_thresholds) < 2):
        raise ConfigError(f"num_thresholds must be None or an integer >= 2; got {num_thresholds!r}")
    pairs = paired_maps(masks, maps, region)
    neg_scores: list[np.ndarray] = []
    pos_scores: list[np.ndarray] = []
    pos_sizes: list[np.ndarray] = []  # size of the region each anomalous pixel belongs to
    for mask, amap, obj in pairs:
        normal = ~mask if obj is None else (~mask & obj)
        neg_scores.append(amap[normal])
        if not mask.any():
            continue
        structure = ndimage.generate_binary_structure(mask.ndim, mask.ndim if connectivity is None else connectivity)
        labelled, n_regions = ndimage.label(mask, structure=structure)
        ids = labelled[mask]
        sizes = np.bincount(ids, minlength=n_regions + 1)
        pos_scores.append(amap[mask])
        pos_sizes.append(sizes[ids])
    neg = np.concatenate(neg_scores)
    if not pos_scores:
        raise ConfigError("aupro needs at least one anomalous region; every mask is empty")
    if neg.size == 0:
        raise ConfigError("aupro needs normal pixels to compute the false positive rate; got none")
    pos = np.concatenate(pos_scores)
    # Each anomalous pixel carries 1/|its region|, so every region weighs 1 in total; the curves divide
    # by the total (the number of regions) and by the number of normal pixels at the end, so both end at 1.
    pos_weight = 1.0 / np.concatenate(pos_sizes).astype(np.float64)
    if num_thresholds is None:
        return _exact_pro_curve(neg, pos, pos_weight)
    return _grid_pro_curve(neg, pos, pos_weight, int(num_thresholds))


def _exact_pro_curve(neg: np.ndarray, pos: np.ndarray, pos_weight: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """PRO curve at every distinct score: walk all pixels from the highest score down."""
    scores = np.concatenate([neg, pos])
    is_normal = np.concatenate([np.ones(neg.size, dtype=np.int64), np.zeros(pos.size, dtype=np.int64)])
    weight = np.concatenate([np.zeros(neg.size), pos_weight])
    order = np.argsort(-scores, kind="stable")
    scores = scores[order]
    normal_above = np.cumsum(is_normal[order])
    weight_above = np.cumsum(weight[order])
    # Tied scores pass a threshold together: keep only the last pixel of each run of equal scores.
    last = np.r_[np.flatnonzero(np.diff(scores) != 0), scores.size - 1]
    fpr = np.r_[0.0, normal_above[last] / neg.size]
    pro = np.r_[0.0, weight_above[last] / weight_above[-1]]
    return fpr, pro


def _grid_pro_curve(
    neg: np.ndarray, pos: np.ndarray, pos_weight: np.ndarray, num_thresholds: int
) -> tuple[np.ndarray, np.ndarray]:
    """PRO curve at ``num_thresholds`` evenly spaced thresholds, from the highest down."""
    lo = float(min(neg.min(), pos.min()))
    hi = float(max(neg.max(), pos.max()))
    thresholds = np.linspace(hi, lo, num_thresholds)
    neg_sorted = np.sort(neg)
    fpr = (neg.size - np.searchsorted(neg_sorted, thresholds, side="left")) / neg.size
    order = np.argsort(pos, kind="stable")
    pos_sorted = pos[order]
    above = np.r_[np.cumsum(pos_weight[order][::-1])[::-1], 0.0]  # weight of pixels at index >= i
    pro = above[np.searchsorted(pos_sorted, thresholds, side="left")] / above[0]
    return np.r_[0.0, fpr], np.r_[0.0, pro]


def aupro(
    masks: Sequence[Any],
    maps: Sequence[Any],
    max_fpr: float = 0.3,
    num_thresholds: int | None = None,
    *,
    region: Sequence[Any] | None = None,
    connectivity: int | None = None,
) -> float:
    """Area under the PRO curve up to ``max_fpr``, divided by ``max_fpr`` (so 1.0 is perfect).

    The curve (see :func:`pro_curve`) is linearly interpolated at exactly ``max_fpr`` and integrated
    with the trapezoidal rule from FPR 0 to ``max_fpr``.

    Args:
        masks: Per-sample ground truth, each ``(*spatial)`` or ``(1, *spatial)``; ``None`` = all normal.
        maps: Per-sample anomaly maps with the same shapes as ``masks``.
        max_fpr: Upper FPR limit of the integral, in (0, 1]; 0.3 is the usual choice.
        num_thresholds: ``None`` = exact curve; an integer = that many evenly spaced thresholds.
        region: Optional per-sample object masks; only normal pixels inside them count for the FPR.
        connectivity: Component connectivity, ``None`` = full (8 in 2-D, 26 in 3-D); see :func:`pro_curve`.

    Returns:
        The normalised AUPRO in [0, 1].

    Raises:
        ShapeError: when a map's shape differs from its mask's.
        ConfigError: when ``max_fpr`` is outside (0, 1], there is no anomalous region or no normal pixel.
    """
    if not 0.0 < float(max_fpr) <= 1.0:
        raise ConfigError(f"max_fpr must be in (0, 1]; got {max_fpr!r}")
    fpr, pro = pro_curve(masks, maps, region=region, num_thresholds=num_thresholds, connectivity=connectivity)
    return _area_up_to(fpr, pro, float(max_fpr)) / float(max_fpr)


def _area_up_to(x: np.ndarray, y: np.ndarray, limit: float) -> float:
    """Trapezoidal area under a non-decreasing-x curve from x=0 to x=limit, interpolating at ``limit``."""
    beyond = np.flatnonzero(x > limit)
    if beyond.size == 0:
        xs, ys = x, y
    else:
        j = int(beyond[0])  # j >= 1 because x[0] == 0 <= limit
        y_at = y[j - 1] + (y[j] - y[j - 1]) * (limit - x[j - 1]) / (x[j] - x[j - 1])
        xs = np.r_[x[:j], limit]
        ys = np.r_[y[:j], y_at]
    return float(np.sum(np.diff(xs) * (ys[1:] + ys[:-1]) / 2.0))


# --------------------------------------------------------------------------------------------- thresholds


def f1_at_threshold(labels: Any, scores: Any, threshold: float) -> float:
    """F1 of the anomalous class when samples with ``score >= threshold`` are predicted anomalous.

    Args:
        labels: ``(N,)`` 0/1 or bool, 1 = anomalous.
        scores: ``(N,)`` anomaly scores.
        threshold: Decision threshold, e.g. one fitted on normal validation scores.

    Returns:
        F1 in [0, 1] (0 when nothing anomalous is detected).

    Raises:
        ConfigError: when there is no anomalous sample (F1 is undefined).
    """
    y, s = labels_and_scores(labels, scores)
    if not y.any():
        raise ConfigError(f"F1 needs at least one anomalous sample (label 1); got {y.size} normal and 0 anomalous")
    pred = is_anomalous(s, threshold)
    tp = int(np.sum(pred & y))
    fp = int(np.sum(pred & ~y))
    fn = int(np.sum(~pred & y))
    return 2.0 * tp / (2.0 * tp + fp + fn)


def f1_max(labels: Any, scores: Any) -> tuple[float, float]:
    """The best F1 over all thresholds, and the threshold that reaches it.

    F1-max looks at the test labels to pick its threshold, so it is optimistic; report it beside
    :func:`f1_at_threshold` at a threshold fitted without test labels.

    Args:
        labels: ``(N,)`` 0/1 or bool, 1 = anomalous.
        scores: ``(N,)`` anomaly scores.

    Returns:
        ``(f1, threshold)``: predicting ``score >= threshold`` as anomalous gives ``f1``; on ties the
        highest such threshold.

    Raises:
        ConfigError: when there is no anomalous sample.
    """
    y, s = labels_and_scores(labels, scores)
    if not y.any():
        raise ConfigError(f"F1 needs at least one anomalous sample (label 1); got {y.size} normal and 0 anomalous")
    precision, recall, thresholds = precision_recall_curve(y, s)
    precision, recall = precision[:-1], recall[:-1]  # the last point (P=1, R=0) has no threshold
    denom = precision + recall
    f1 = np.divide(2.0 * precision * recall, denom, out=np.zeros_like(denom), where=denom > 0)
    best = np.flatnonzero(f1 == f1.max())
    i = int(best[np.argmax(thresholds[best])])
    return float(f1[i]), float(thresholds[i])


def threshold_from_normals(scores: Any, quantile: float = 0.95) -> float:
    """A decision threshold from scores of normal samples only: their ``quantile``.

    With ``quantile=0.95`` about 5% of fresh normal samples score at or above it (the false positive
    rate); the estimate is coarse with few normals (a quantile of 20 scores moves by whole samples).

    Args:
        scores: ``(N,)`` anomaly scores of normal (e.g. validation) samples.
        quantile: In (0, 1].

    Returns:
        The threshold (linear interpolation between order statistics).

    Raises:
        ConfigError: when ``quantile`` is outside (0, 1] or ``scores`` is empty or not finite.
    """
    if not 0.0 < float(quantile) <= 1.0:
        raise ConfigError(f"quantile must be in (0, 1]; got {quantile!r}")
    arr = np.asarray(scores, dtype=np.float64).ravel()
    if arr.size == 0:
        raise ConfigError("threshold_from_normals needs at least one normal score; got none")
    arr = finite_scores(arr, arr.size)
    return float(np.quantile(arr, float(quantile)))


def false_positive_rate(labels: Any, scores: Any, threshold: float) -> float:
    """Fraction of normal samples with ``score >= threshold``.

    Args:
        labels: ``(N,)`` 0/1 or bool, 1 = anomalous.
        scores: ``(N,)`` anomaly scores.
        threshold: Decision threshold.

    Returns:
        FPR in [0, 1].

    Raises:
        ConfigError: when there is no normal sample.
    """
    y, s = labels_and_scores(labels, scores)
    if y.all():
        raise ConfigError(f"false_positive_rate needs normal samples (label 0); got 0 normal and {y.size} anomalous")
    return float(np.mean(is_anomalous(s[~y], threshold)))


# --------------------------------------------------------------------------------------------- regression


def _paired_targets(y_true: Any, y_pred: Any, what: str, min_n: int) -> tuple[np.ndarray, np.ndarray]:
    """Validate regression targets: same shape ``(N,)`` or ``(N, T)``, finite, at least ``min_n`` rows."""
    t = np.asarray(y_true, dtype=np.float64)
    p = np.asarray(y_pred, dtype=np.float64)
    if t.shape != p.shape or t.ndim not in (1, 2):
        raise ShapeError(
            f"{what}: y_true and y_pred must have the same shape (N,) or (N, T); got {t.shape} and {p.shape}"
        )
    if t.shape[0] < min_n:
        raise ConfigError(f"{what} needs at least {min_n} samples; got {t.shape[0]}")
    if not (np.isfinite(t).all() and np.isfinite(p).all()):
        raise ConfigError(f"{what}: y_true and y_pred must be finite")
    return t, p


def mae(y_true: Any, y_pred: Any) -> float:
    """Mean absolute error (averaged over targets for ``(N, T)`` input).

    Args:
        y_true: ``(N,)`` or ``(N, T)`` true values.
        y_pred: Predictions of the same shape.

    Returns:
        The MAE, in the targets' unit.

    Raises:
        ShapeError: when the shapes differ.
        ConfigError: when empty or not finite.
    """
    t, p = _paired_targets(y_true, y_pred, "mae", 1)
    return float(np.mean(np.abs(t - p)))


def r2(y_true: Any, y_pred: Any) -> float:
    """Coefficient of determination R² (uniform average over targets for ``(N, T)`` input).

    A constant target gives 1.0 for a perfect prediction and 0.0 otherwise (scikit-learn's
    ``force_finite`` convention).

    Args:
        y_true: ``(N,)`` or ``(N, T)`` true values, N >= 2.
        y_pred: Predictions of the same shape.

    Returns:
        R², at most 1.0 (negative when worse than predicting the mean).

    Raises:
        ShapeError: when the shapes differ.
        ConfigError: when fewer than 2 samples or not finite.
    """
    t, p = _paired_targets(y_true, y_pred, "r2", 2)
    return float(r2_score(t, p))


# --------------------------------------------------------------------------------------------- classification


def _paired_classes(y_true: Any, y_pred: Any, what: str) -> tuple[np.ndarray, np.ndarray]:
    """Validate class labels: two non-empty 1-D arrays of the same length."""
    t = np.asarray(y_true)
    p = np.asarray(y_pred)
    if t.ndim != 1 or t.shape != p.shape:
        raise ShapeError(f"{what}: y_true and y_pred must be 1-D of the same length; got {t.shape} and {p.shape}")
    if t.size == 0:
        raise ConfigError(f"{what} needs at least one sample; got none")
    return t, p


def macro_f1(y_true: Any, y_pred: Any) -> float:
    """Unweighted mean of the per-class F1 over the classes in ``y_true`` and ``y_pred``.

    Args:
        y_true: ``(N,)`` true class labels (any hashable values).
        y_pred: ``(N,)`` predicted class labels.

    Returns:
        Macro F1 in [0, 1]; a class never predicted and never true does not count, a class with no
        correct prediction counts as 0.

    Raises:
        ShapeError: when the lengths differ.
    """
    t, p = _paired_classes(y_true, y_pred, "macro_f1")
    return float(f1_score(t, p, average="macro", zero_division=0))


def balanced_accuracy(y_true: Any, y_pred: Any) -> float:
    """Mean per-class recall over the classes in ``y_true`` (robust to class imbalance).

    Args:
        y_true: ``(N,)`` true class labels.
        y_pred: ``(N,)`` predicted class labels.

    Returns:
        Balanced accuracy in [0, 1]; chance is ``1 / n_classes``.

    Raises:
        ShapeError: when the lengths differ.
    """
    t, p = _paired_classes(y_true, y_pred, "balanced_accuracy")
    with warnings.catch_warnings():  # "y_pred contains classes not in y_true" is expected, not news
        warnings.simplefilter("ignore", UserWarning)
        return float(balanced_accuracy_score(t, p))
