"""Sliding-window inference over inputs of any size, with memory bounded by the window batch.

Two ways to put the windows' maps back together:

* :func:`stitch_cells` for fully convolutional score maps (FCDD): each window contributes the cells of its map that
  are free of border effects (:class:`~seedlens.inference.windows.CellLayout`), placed at their own (low)
  resolution. With windows every ``jump`` multiple the stitched map equals the map of one pass over the whole input,
  so there are no seams and the caller upsamples it once.
* :func:`blend_windows` for maps at input resolution (reconstruction errors, gradient maps): windows overlap and
  are averaged with a Gaussian weight that trusts a window's centre more than its border (as nnU-Net does).

Both take a batch of equally shaped inputs ``(N, C, *spatial)`` and push ``N × k`` windows through the model per
call, ``k`` chosen so that one call holds at most ``max_voxels`` input voxels.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from seedlens.errors import ConfigError, ShapeError
from seedlens.inference.windows import CellLayout, window_positions

__all__ = ["blend_windows", "gaussian_importance", "stitch_cells"]

#: Input voxels (all windows of one call together) a call of the model may take by default.
MAX_VOXELS = 2**21

Progress = Callable[[int, int], None]


def _check(x: Tensor, window: Sequence[int]) -> tuple[int, ...]:
    if x.ndim not in (4, 5):
        raise ShapeError(f"inputs must be (N, C, H, W) or (N, C, D, H, W); got shape {tuple(x.shape)}")
    window = tuple(int(w) for w in window)
    if len(window) != x.ndim - 2 or any(w < 1 or w > s for w, s in zip(window, x.shape[2:], strict=True)):
        raise ShapeError(f"window {window} must have one size per spatial axis of {tuple(x.shape[2:])}, each at "
                         "least 1 and at most the input's")
    return window


def _batches(positions: list[tuple[int, ...]], per_call: int) -> list[list[tuple[int, ...]]]:
    return [positions[i : i + per_call] for i in range(0, len(positions), per_call)]


def _crop(x: Tensor, start: tuple[int, ...], window: tuple[int, ...]) -> Tensor:
    return x[(slice(None), slice(None), *(slice(s, s + w) for s, w in zip(start, window, strict=True)))]


def _windows_per_call(n: int, window: tuple[int, ...], max_voxels: int) -> int:
    voxels = n * int(torch.tensor(window).prod())
    return max(1, max_voxels // max(voxels, 1))


def stitch_cells(
    x: Tensor,
    score_map: Callable[[Tensor], Tensor],
    window: Sequence[int],
    layout: CellLayout,
    *,
    max_voxels: int = MAX_VOXELS,
    progress: Progress | None = None,
) -> Tensor:
    """The score map of ``x`` from windows: equal to ``score_map(x)`` (up to float rounding), any input size.

    Args:
        x: Inputs ``(N, C, *spatial)``, each spatial size a multiple of ``layout.jump`` and at least ``window``.
        score_map: The fully convolutional model: ``(M, C, *window) -> (M, K, *cells)``.
        window: Window size per spatial axis, multiples of ``layout.jump``.
        layout: Where the model's map cells sit (see :class:`CellLayout`).
        max_voxels: Input voxels per model call.
        progress: Called with ``(windows done, windows in all)``.

    Returns:
        ``(N, K, *cells)`` with ``cells = (spatial - window) / jump + cells(window)`` per axis.

    Raises:
        ShapeError: a size is not a multiple of the jump, or the window does not fit.
        ConfigError: the window is too small to hold a valid cell.
    """
    window = _check(x, window)
    jump = layout.jump
    shape = tuple(int(s) for s in x.shape[2:])
    if any(s % jump for s in (*shape, *window)):
        raise ShapeError(f"input {shape} and window {window} must be multiples of the map's jump {jump}")
    n = int(x.shape[0])
    origin = (0,) * len(window)
    with torch.no_grad():
        first = score_map(_crop(x, origin, window))
        cells = tuple(int(c) for c in first.shape[2:])
        ranges: list[tuple[int, int]] = []
        for size, w, c in zip(shape, window, cells, strict=True):
            lo, hi = layout.valid_cells(w, c) if w < size else (0, c - 1)  # one window: every cell is the input's
            if hi < lo:
                raise ConfigError(f"window {window} is too small for a receptive field of {layout.extent:g}: no "
                                  f"cell is free of border effects (use at least {layout.min_window()})")
            ranges.append((lo, hi))
        positions = window_positions(shape, window, [(hi - lo + 1) * jump for lo, hi in ranges])
        total = (*first.shape[:2], *((s - w) // jump + c for s, w, c in zip(shape, window, cells, strict=True)))
        out = first.new_zeros(total)
        _place(out, first, origin, shape, window, ranges, jump)
        done = 1
        if progress is not None:
            progress(done, len(positions))
        for group in _batches(positions[1:], _windows_per_call(n, window, max_voxels)):
            maps = score_map(torch.cat([_crop(x, start, window) for start in group]))
            for k, start in enumerate(group):
                _place(out, maps[k * n : (k + 1) * n], start, shape, window, ranges, jump)
            done += len(group)
            if progress is not None:
                progress(done, len(positions))
    return out


def _place(out: Tensor, window_map: Tensor, start: tuple[int, ...], shape: tuple[int, ...], window: tuple[int, ...],
           ranges: list[tuple[int, int]], jump: int) -> None:
    """Copy the valid cells of one window's map into the stitched map (border windows keep their outer cells)."""
    source, target = [slice(None), slice(None)], [slice(None), slice(None)]
    for s, size, w, (lo, hi), cells in zip(start, shape, window, ranges, window_map.shape[2:], strict=True):
        first = 0 if s == 0 else lo
        last = cells - 1 if s + w == size else hi
        source.append(slice(first, last + 1))
        target.append(slice(s // jump + first, s // jump + last + 1))
    out[tuple(target)] = window_map[tuple(source)]


def gaussian_importance(window: Sequence[int], sigma_fraction: float = 0.125) -> Tensor:
    """Blending weights of a window ``(*window)``: a Gaussian of ``sigma_fraction`` × window, peak 1, floor 1e-3."""
    weights: Tensor | None = None
    for axis, size in enumerate(window):
        position = torch.arange(size, dtype=torch.float32) - (size - 1) / 2
        profile = torch.exp(-0.5 * (position / max(sigma_fraction * size, 1e-6)) ** 2)
        shape = [1] * len(window)
        shape[axis] = size
        weights = profile.reshape(shape) if weights is None else weights * profile.reshape(shape)
    assert weights is not None
    return (weights / weights.max()).clamp_min(1e-3)


def blend_windows(
    x: Tensor,
    dense_map: Callable[[Tensor], Tensor],
    window: Sequence[int],
    *,
    overlap: float = 0.5,
    max_voxels: int = MAX_VOXELS,
    progress: Progress | None = None,
) -> Tensor:
    """Maps at input resolution of ``x`` from overlapping windows, averaged with :func:`gaussian_importance`.

    A single window covering the input gives ``dense_map(x)`` itself.

    Args:
        x: Inputs ``(N, C, *spatial)``, each spatial size at least ``window``.
        dense_map: The model: ``(M, C, *window) -> (M, K, *window)``.
        window: Window size per spatial axis.
        overlap: Share of a window its neighbour overlaps, in ``[0, 1)``.
        max_voxels: Input voxels per model call.
        progress: Called with ``(windows done, windows in all)``.

    Returns:
        ``(N, K, *spatial)``.

    Raises:
        ShapeError: the window does not fit.
        ConfigError: ``overlap`` is outside ``[0, 1)``.
    """
    window = _check(x, window)
    if not 0 <= overlap < 1:
        raise ConfigError(f"overlap must be in [0, 1); got {overlap}")
    shape = tuple(int(s) for s in x.shape[2:])
    n = int(x.shape[0])
    steps = [max(1, round(w * (1 - overlap))) for w in window]
    positions = window_positions(shape, window, steps)
    weights = gaussian_importance(window).to(x.device)
    total: Tensor | None = None
    norm = x.new_zeros((1, 1, *shape))
    done = 0
    with torch.no_grad():
        for group in _batches(positions, _windows_per_call(n, window, max_voxels)):
            maps = dense_map(torch.cat([_crop(x, start, window) for start in group])).float()
            if total is None:
                total = maps.new_zeros((n, maps.shape[1], *shape))
            for k, start in enumerate(group):
                region = (slice(None), slice(None), *(slice(s, s + w) for s, w in zip(start, window, strict=True)))
                total[region] += maps[k * n : (k + 1) * n] * weights
                norm[region] += weights
            done += len(group)
            if progress is not None:
                progress(done, len(positions))
    assert total is not None
    return total.div_(norm)
