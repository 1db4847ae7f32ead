"""Loss functions of FCDD, HSC and reconstruction baselines, as pure functions of tensors.

Conventions: ``N`` is the batch, ``*s`` the spatial axes of a (low-resolution) score map and ``*S`` those of the
input (``(H, W)`` or ``(D, H, W)``). Labels are 0 for normal and 1 for anomalous. Higher scores mean more
anomalous. Every ``-log(1 - exp(-d))`` is computed as ``-log(clamp(-expm1(-d), min=eps))``, which is exact for
small ``d`` and keeps the value and its gradient finite at ``d = 0``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from seedlens.errors import ShapeError

EPS = 1e-9


def pseudo_huber(x: Tensor) -> Tensor:
    """Element-wise pseudo-Huber ``sqrt(x² + 1) - 1`` (the FCDD anomaly map ``A`` of a raw map ``φ``).

    Computed as ``x² / (sqrt(x² + 1) + 1)``, which avoids cancellation for small ``x``.

    Args:
        x: Tensor of any shape.

    Returns:
        Tensor of the same shape, >= 0.
    """
    sq = x * x
    return sq / (torch.sqrt(sq + 1.0) + 1.0)


def _outlier_term(d: Tensor, eps: float) -> Tensor:
    """``-log(1 - exp(-d))`` for ``d >= 0``, clamped inside the log."""
    return -torch.log(torch.clamp(-torch.expm1(-d), min=eps))


def _check_labels(labels: Tensor, n: int, name: str) -> Tensor:
    labels = torch.as_tensor(labels)
    if labels.shape != (n,):
        raise ShapeError(f"labels must be ({n},) to match {name}; got {tuple(labels.shape)}")
    return labels


def fcdd_loss(score_map: Tensor, labels: Tensor, eps: float = EPS) -> Tensor:
    """FCDD loss with sample labels.

    With ``A = pseudo_huber(φ)`` and ``a = mean(A)`` over each sample's map, the per-sample loss is
    ``a`` for a normal sample and ``-log(1 - exp(-a))`` for an anomalous one; the result is their mean over the
    batch. A batch of normals only reduces to ``mean(A)``.

    Args:
        score_map: Raw network output ``φ``, ``(N, 1, *s)``.
        labels: ``(N,)`` 0 (normal) / 1 (anomalous), any numeric dtype.
        eps: Lower clamp inside the logarithm.

    Returns:
        Scalar loss tensor.

    Raises:
        ShapeError: If ``score_map`` is not ``(N, 1, *s)`` or ``labels`` is not ``(N,)``.
    """
    if score_map.dim() < 3 or score_map.shape[1] != 1:
        raise ShapeError(f"score_map must be (N, 1, *spatial); got {tuple(score_map.shape)}")
    y = _check_labels(labels, score_map.shape[0], "score_map").to(score_map.device, score_map.dtype)
    a = pseudo_huber(score_map).flatten(1).mean(dim=1)
    per_sample = (1.0 - y) * a + y * _outlier_term(a, eps)
    return per_sample.mean()


def fcdd_map_loss(anomaly_map: Tensor, gt: Tensor, eps: float = EPS) -> Tensor:
    """FCDD loss with ground-truth anomaly maps (semi-supervised FCDD).

    Per sample, with ``A'`` the anomaly map upsampled to input resolution and ``Y`` the ground truth, both means
    taken over all ``m`` pixels::

        mean_j((1 - Y_j) · A'_j) - log(1 - exp(-mean_j(Y_j · A'_j)))

    The second term is only added for samples with at least one anomalous pixel. The result is the batch mean.

    Args:
        anomaly_map: Non-negative anomaly map ``A'`` at input resolution, ``(N, 1, *S)``.
        gt: Ground truth ``(N, 1, *S)`` with values in {0, 1} (bool or numeric).
        eps: Lower clamp inside the logarithm.

    Returns:
        Scalar loss tensor.

    Raises:
        ShapeError: If the shapes differ or are not ``(N, 1, *S)``.
    """
    if anomaly_map.dim() < 3 or anomaly_map.shape[1] != 1:
        raise ShapeError(f"anomaly_map must be (N, 1, *spatial); got {tuple(anomaly_map.shape)}")
    if gt.shape != anomaly_map.shape:
        raise ShapeError(f"gt must have the shape of anomaly_map {tuple(anomaly_map.shape)}; got {tuple(gt.shape)}")
    y = gt.to(anomaly_map.device, anomaly_map.dtype).flatten(1)
    a = anomaly_map.flatten(1)
    normal_term = ((1.0 - y) * a).mean(dim=1)
    anomalous = (y * a).mean(dim=1)
    has_anomaly = (y > 0).any(dim=1)
    outlier = torch.where(has_anomaly, _outlier_term(anomalous, eps), torch.zeros_like(anomalous))
    return (normal_term + outlier).mean()


def hsc_score(features: Tensor) -> Tensor:
    """Hypersphere-classifier anomaly score ``1 - exp(-d)`` with ``d = sqrt(‖f‖² + 1) - 1``.

    The score lies in [0, 1) and increases with ``‖f‖``; in float32 it saturates at 1 for ``d`` above ≈ 17.

    Args:
        features: ``(N, D)`` feature vectors (the centre is absorbed into the network's last bias).

    Returns:
        ``(N,)`` scores.

    Raises:
        ShapeError: If ``features`` is not 2D.
    """
    if features.dim() != 2:
        raise ShapeError(f"features must be (N, D); got {tuple(features.shape)}")
    return -torch.expm1(-_hsc_distance(features))


def _hsc_distance(features: Tensor) -> Tensor:
    sq = (features * features).sum(dim=1)
    return sq / (torch.sqrt(sq + 1.0) + 1.0)


def hsc_loss(features: Tensor, labels: Tensor, eps: float = EPS) -> Tensor:
    """Hypersphere-classifier (HSC) loss used for Outlier Exposure.

    With ``d = sqrt(‖f‖² + 1) - 1``: normals contribute ``d``, outliers ``-log(1 - exp(-d))``; the result is the
    batch mean.

    Args:
        features: ``(N, D)`` feature vectors.
        labels: ``(N,)`` 0 (normal) / 1 (outlier).
        eps: Lower clamp inside the logarithm.

    Returns:
        Scalar loss tensor.

    Raises:
        ShapeError: If ``features`` is not ``(N, D)`` or ``labels`` not ``(N,)``.
    """
    if features.dim() != 2:
        raise ShapeError(f"features must be (N, D); got {tuple(features.shape)}")
    y = _check_labels(labels, features.shape[0], "features").to(features.device, features.dtype)
    d = _hsc_distance(features)
    return ((1.0 - y) * d + y * _outlier_term(d, eps)).mean()


def _check_logits(logits: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
    if logits.dim() != 2 or logits.shape[1] != 1:
        raise ShapeError(f"logits must be (N, 1); got {tuple(logits.shape)}")
    y = _check_labels(labels, logits.shape[0], "logits").to(logits.device, logits.dtype)
    return logits[:, 0], y


def bce_loss(logits: Tensor, labels: Tensor) -> Tensor:
    """Binary cross-entropy of anomaly logits (Outlier Exposure as a normal-vs-outlier classifier).

    Args:
        logits: ``(N, 1)``: the log-odds that each sample is anomalous.
        labels: ``(N,)`` 0 (normal) / 1 (outlier).

    Returns:
        Scalar loss tensor (the batch mean).

    Raises:
        ShapeError: If ``logits`` is not ``(N, 1)`` or ``labels`` not ``(N,)``.
    """
    z, y = _check_logits(logits, labels)
    return torch.nn.functional.binary_cross_entropy_with_logits(z, y)


def focal_loss(logits: Tensor, labels: Tensor, gamma: float = 2.0) -> Tensor:
    """Focal loss (Lin et al. 2017) of anomaly logits: ``-(1 - p_t)^gamma log(p_t)``, the batch mean.

    ``p_t`` is the predicted probability of the true class; ``gamma = 0`` is binary cross-entropy. Easy samples
    (the many trivially normal ones, outliers far from the normal class) weigh less.

    Args:
        logits: ``(N, 1)`` anomaly log-odds.
        labels: ``(N,)`` 0 (normal) / 1 (outlier).
        gamma: Focusing exponent, >= 0.

    Raises:
        ShapeError: If ``logits`` is not ``(N, 1)`` or ``labels`` not ``(N,)``.
    """
    z, y = _check_logits(logits, labels)
    log_p = torch.nn.functional.logsigmoid(z)
    log_not_p = torch.nn.functional.logsigmoid(-z)
    log_pt = y * log_p + (1.0 - y) * log_not_p
    return (-((1.0 - log_pt.exp()) ** gamma) * log_pt).mean()


def reconstruction_error(recon: Tensor, x: Tensor) -> Tensor:
    """Per-pixel squared reconstruction error, averaged over channels.

    Args:
        recon: Reconstruction ``(N, C, *S)``.
        x: Input ``(N, C, *S)``.

    Returns:
        ``(N, 1, *S)`` map of ``mean_c (recon - x)²``.

    Raises:
        ShapeError: If the shapes differ or have no channel axis.
    """
    if recon.shape != x.shape or x.dim() < 3:
        raise ShapeError(f"recon and x must both be (N, C, *spatial); got {tuple(recon.shape)} and {tuple(x.shape)}")
    return ((recon - x) ** 2).mean(dim=1, keepdim=True)
