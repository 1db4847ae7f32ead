"""How an anomaly map becomes one sample score: one implementation for every detector."""

from __future__ import annotations

from torch import Tensor

from seedlens.errors import UnknownNameError

__all__ = ["POOLINGS", "pool_maps"]

#: Score poolings :func:`pool_maps` knows.
POOLINGS: tuple[str, ...] = ("mean", "topk", "max")


def pool_maps(maps: Tensor, pooling: str, topk_fraction: float = 0.01, valid: Tensor | None = None) -> Tensor:
    """Pool anomaly maps ``(N, 1, *spatial)`` into sample scores ``(N,)``.

    Args:
        maps: Anomaly maps, higher = more anomalous.
        pooling: ``mean``, ``topk`` (mean of the highest ``max(1, round(topk_fraction × cells))`` cells) or ``max``.
        topk_fraction: Share of the cells ``topk`` averages.
        valid: bool ``(N, 1, *spatial)`` (or broadcastable): only these cells count (e.g. not the padding).

    Raises:
        UnknownNameError: an unknown ``pooling``.
    """
    if pooling not in POOLINGS:
        raise UnknownNameError(f"unknown score pooling {pooling!r}; expected one of: {', '.join(POOLINGS)}")
    flat = maps.flatten(1)
    if valid is not None:
        keep = valid.expand_as(maps).flatten(1)
        counts = keep.sum(dim=1)
        if pooling == "mean":
            return (flat * keep).sum(dim=1) / counts.clamp_min(1)
        flat = flat.masked_fill(~keep, float("-inf"))
        if pooling == "max":
            return flat.amax(dim=1)
        k = max(1, round(topk_fraction * int(counts.min())))
        return flat.topk(k, dim=1).values.mean(dim=1)
    if pooling == "mean":
        return flat.mean(dim=1)
    if pooling == "max":
        return flat.amax(dim=1)
    k = max(1, round(topk_fraction * flat.shape[1]))
    return flat.topk(k, dim=1).values.mean(dim=1)
