"""Score pooling: how a batch of anomaly maps becomes one score per sample.

Every detector that scores by pooling a map (RX, the deep detectors) calls :func:`pool_maps`, so ``mean``,
``topk`` and ``max`` mean the same everywhere. Padded inputs (a batch of samples of different sizes padded to one
grid) pass ``valid``: padding cells then never count, neither in the mean nor among the top cells.
"""

from __future__ import annotations

import torch

from seedlens.errors import ConfigError, ShapeError
from seedlens.registry import Registry

__all__ = ["POOLINGS", "pool_maps"]

_POOLERS: Registry[torch.Tensor] = Registry("score pooling")


@_POOLERS.register("mean")
def _mean(flat: torch.Tensor, valid: torch.Tensor | None, topk_fraction: float) -> torch.Tensor:
    """Mean of the (valid) cells ``(N, P)`` -> ``(N,)``."""
    if valid is None:
        return flat.mean(dim=1)
    return torch.where(valid, flat, 0).sum(dim=1) / valid.sum(dim=1)


@_POOLERS.register("topk")
def _topk(flat: torch.Tensor, valid: torch.Tensor | None, topk_fraction: float) -> torch.Tensor:
    """Mean of the ``max(1, round(topk_fraction * cells))`` highest (valid) cells ``(N, P)`` -> ``(N,)``."""
    if valid is None:
        # k from the shape as a tensor (torch.round halves to even, as round()): a traced graph (ONNX export) then
        # takes its fraction of each input's cell count instead of the count of the input it was traced with.
        cells = torch._shape_as_tensor(flat)[1].double()
        k = torch.round(topk_fraction * cells).clamp(min=1).long()
        return flat.topk(k, dim=1).values.mean(dim=1)  # type: ignore[arg-type]  # a 0-d integer tensor is an index
    counts = torch.round(topk_fraction * valid.sum(dim=1).double()).clamp(min=1).long()  # half to even, as round()
    top = torch.where(valid, flat, -torch.inf).topk(int(counts.max()), dim=1).values
    kept = torch.arange(top.shape[1], device=flat.device) < counts[:, None]
    return torch.where(kept, top, 0).sum(dim=1) / counts.to(flat.dtype)


@_POOLERS.register("max")
def _max(flat: torch.Tensor, valid: torch.Tensor | None, topk_fraction: float) -> torch.Tensor:
    """Highest (valid) cell of ``(N, P)`` -> ``(N,)``."""
    if valid is None:
        return flat.amax(dim=1)
    return torch.where(valid, flat, -torch.inf).amax(dim=1)


#: The score poolings :func:`pool_maps` knows (and detector configs accept).
POOLINGS: frozenset[str] = frozenset(_POOLERS.list())


def pool_maps(
    maps: torch.Tensor,
    pooling: str,
    topk_fraction: float = 0.01,
    *,
    valid: torch.Tensor | None = None,
) -> torch.Tensor:
    """Pool anomaly maps ``(N, 1, *spatial)`` into sample scores ``(N,)``.

    Example:
        >>> pool_maps(maps, "topk", 0.01)                   # maps (N, 1, H, W) -> (N,)
        >>> pool_maps(padded, "mean", valid=inside)           # padding cells (inside False) never count

    Args:
        maps: Anomaly maps ``(N, 1, *spatial)`` (2D ``(N, 1, H, W)`` or 3D ``(N, 1, D, H, W)``), higher = more
            anomalous; integer maps are pooled as float32.
        pooling: ``mean`` (mean of the cells), ``topk`` (mean of the ``max(1, round(topk_fraction * cells))``
            highest cells; ``round`` halves to even, as Python's) or ``max`` (the highest cell).
        topk_fraction: Fraction of the cells ``topk`` averages, in ``(0, 1]``; unused by the others.
        valid: Bool mask ``(N, 1, *spatial)``, True on the cells that count. With ``valid``, a padding cell never
            counts: ``mean`` averages the valid cells only, ``topk`` takes its fraction of each
            sample's valid cell count and its cells among the valid ones, ``max`` ignores padding.

    Returns:
        Scores ``(N,)`` in the dtype of ``maps``.

    Raises:
        UnknownNameError: ``pooling`` is not one of :data:`POOLINGS` (the message lists them).
        ShapeError: ``maps`` is not ``(N, 1, *spatial)`` with cells, or ``valid`` does not fit it.
        ConfigError: ``topk_fraction`` is outside ``(0, 1]`` for ``topk``, ``valid`` is not bool, or a sample has
            no valid cell.
    """
    pool = _POOLERS.get(pooling)
    if maps.ndim < 3 or maps.shape[1] != 1 or maps.shape[2:].numel() == 0:
        raise ShapeError(f"maps must be (N, 1, *spatial) with at least one cell; got shape {tuple(maps.shape)}")
    if pool is _topk and not 0 < topk_fraction <= 1:
        raise ConfigError(f"topk_fraction must be in (0, 1]; got {topk_fraction!r}")
    if not maps.is_floating_point():
        maps = maps.float()
    mask = _valid_cells(maps, valid)
    return pool(maps.flatten(1), None if mask is None else mask.flatten(1), topk_fraction)


def _valid_cells(maps: torch.Tensor, valid: torch.Tensor | None) -> torch.Tensor | None:
    """The bool mask ``(N, 1, *spatial)`` of the cells that count, checked; None when every cell counts."""
    if valid is None:
        return None
    if valid.dtype != torch.bool:
        raise ConfigError(f"valid must be a bool mask; got dtype {valid.dtype}")
    if valid.shape != maps.shape:
        raise ShapeError(f"valid must have the shape of maps {tuple(maps.shape)}; got {tuple(valid.shape)}")
    empty = (~valid.flatten(1).any(dim=1)).nonzero().flatten().tolist()
    if empty:
        raise ConfigError(f"every sample needs at least one valid cell; samples {empty} have none")
    return valid.to(maps.device)


