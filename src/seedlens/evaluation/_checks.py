"""Input checks shared by the metric functions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from seedlens.errors import ConfigError, ShapeError


def binary_labels(labels: Any, name: str = "labels") -> np.ndarray:
    """Return ``labels`` as a 1-D bool array (True = anomalous); reject values other than 0/1."""
    arr = np.asarray(labels)
    if arr.ndim != 1:
        raise ShapeError(f"{name} must be 1-D (N,); got shape {arr.shape}")
    if arr.dtype == bool:
        return arr
    if not np.issubdtype(arr.dtype, np.number):
        raise ConfigError(f"{name} must be 0 (normal) / 1 (anomalous); got dtype {arr.dtype}")
    bad = ~np.isin(arr, (0, 1))
    if bad.any():
        first = int(np.argmax(bad))
        raise ConfigError(
            f"{name} must be 0 (normal) / 1 (anomalous); got value {arr[first].item()!r} at index {first}"
        )
    return arr.astype(bool)


def finite_scores(scores: Any, n: int, name: str = "scores") -> np.ndarray:
    """Return ``scores`` as a 1-D float64 array of length ``n`` with finite values."""
    arr = np.asarray(scores, dtype=np.float64)
    if arr.ndim != 1 or arr.shape[0] != n:
        raise ShapeError(f"{name} must be 1-D with one value per label ({n},); got shape {arr.shape}")
    if not np.isfinite(arr).all():
        idx = int(np.argmax(~np.isfinite(arr)))
        raise ConfigError(f"{name} must be finite; got {arr[idx]} at index {idx}")
    return arr


def labels_and_scores(labels: Any, scores: Any) -> tuple[np.ndarray, np.ndarray]:
    """Validate a (labels, scores) pair: bool labels and finite float scores of the same length."""
    y = binary_labels(labels)
    return y, finite_scores(scores, y.shape[0])


def require_both_classes(y: np.ndarray, what: str) -> None:
    """Raise a ConfigError naming the counts when ``y`` holds only one class."""
    n_pos = int(y.sum())
    n_neg = int(y.size - n_pos)
    if n_pos == 0 or n_neg == 0:
        raise ConfigError(
            f"{what} needs both normal (label 0) and anomalous (label 1) samples; "
            f"got {n_neg} normal and {n_pos} anomalous"
        )


def squeeze_channel(arr: np.ndarray) -> np.ndarray:
    """Drop a leading singleton channel axis: ``(1, *spatial)`` -> ``(*spatial)``; ``(*spatial)`` unchanged."""
    if arr.ndim >= 3 and arr.shape[0] == 1:
        return arr[0]
    return arr


def paired_maps(
    masks: Sequence[Any],
    maps: Sequence[Any],
    region: Sequence[Any] | None = None,
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray | None]]:
    """Pair ground-truth masks with anomaly maps (and object masks), checking each pair's shape.

    Masks and object masks are binarised as ``value > 0.5`` (so 0/1, bool and 0/255 all work). A ``None``
    mask means "no anomalous pixel"; a ``None`` object mask means "the whole sample counts".
    """
    if len(masks) != len(maps):
        raise ShapeError(f"masks and maps must have one entry per sample; got {len(masks)} masks and {len(maps)} maps")
    if region is not None and len(region) != len(maps):
        raise ShapeError(f"region must have one object mask per sample; got {len(region)} for {len(maps)} maps")
    if len(maps) == 0:
        raise ShapeError("masks and maps are empty; need at least one sample")
    out: list[tuple[np.ndarray, np.ndarray, np.ndarray | None]] = []
    for i, raw_map in enumerate(maps):
        amap = squeeze_channel(np.asarray(raw_map))
        if not np.issubdtype(amap.dtype, np.floating):
            amap = amap.astype(np.float64)  # float maps keep their dtype: volumes are large
        raw_mask = masks[i]
        mask = np.zeros(amap.shape, dtype=bool) if raw_mask is None else squeeze_channel(np.asarray(raw_mask)) > 0.5
        if mask.shape != amap.shape:
            raise ShapeError(
                f"sample {i}: mask shape {np.shape(raw_mask)} and map shape {np.shape(raw_map)} differ; "
                "maps must be at the ground truth's resolution"
            )
        if not np.isfinite(amap).all():
            raise ConfigError(f"sample {i}: map contains non-finite values")
        obj: np.ndarray | None = None
        if region is not None and region[i] is not None:
            obj = squeeze_channel(np.asarray(region[i])) > 0.5
            if obj.shape != amap.shape:
                raise ShapeError(
                    f"sample {i}: object mask shape {np.shape(region[i])} and map shape {np.shape(raw_map)} differ"
                )
        out.append((mask, amap, obj))
    return out
