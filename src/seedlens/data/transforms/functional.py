"""Array transforms for one sample, dimension-agnostic, numpy or torch in -> the same type out.

Every function takes one channel-first sample: ``(C, H, W)`` image, ``(C, D, H, W)`` volume or
``(bands, H, W)`` cube. None of them modifies its input.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

import numpy as np
import torch
import torch.nn.functional as F

from seedlens.errors import ConfigError, ShapeError, UnknownNameError

__all__ = ["contrast_normalize", "equalize", "minmax", "resize", "to_channels", "window", "zscore"]

ArrayT = TypeVar("ArrayT", np.ndarray, torch.Tensor)

RESIZE_MODES: tuple[str, ...] = ("linear", "nearest")


def _as_float(x: ArrayT) -> ArrayT:
    """``x`` as floating point (float32 unless it already is floating)."""
    if isinstance(x, torch.Tensor):
        return x if x.is_floating_point() else x.float()
    return x if np.issubdtype(x.dtype, np.floating) else x.astype(np.float32)


def _check_sample(x: np.ndarray | torch.Tensor, what: str) -> None:
    if x.ndim < 3:
        raise ShapeError(f"{what}: array must be (C, H, W) or (C, D, H, W); got shape {tuple(x.shape)}")


def resize(array: ArrayT, size: Sequence[int], mode: str = "linear") -> ArrayT:
    """Resize the spatial axes of one sample, keeping its channels.

    ``"linear"`` is bilinear in 2-D (antialiased when shrinking) and trilinear in 3-D, with
    ``align_corners=False``; its output is floating point. ``"nearest"`` (exact nearest neighbour,
    torch's ``nearest-exact``) keeps the dtype, so label and bool masks stay labels: use it for masks.

    Args:
        array: ``(C, H, W)`` or ``(C, D, H, W)``, numpy or torch.
        size: New spatial size, ``(H, W)`` or ``(D, H, W)``, as many axes as the array has.
        mode: ``"linear"`` or ``"nearest"``.

    Returns:
        ``(C, *size)``, the same type (and device) as ``array``.

    Raises:
        ShapeError: when ``array`` is not ``(C, *spatial)`` with 2 or 3 spatial axes matching ``size``.
        UnknownNameError: for an unknown ``mode``.
        ConfigError: when a size is not a positive integer.
    """
    if mode not in RESIZE_MODES:
        raise UnknownNameError(f"unknown resize mode {mode!r}; expected one of: {', '.join(RESIZE_MODES)}")
    size = tuple(int(s) for s in size)
    if any(s <= 0 for s in size):
        raise ConfigError(f"resize: size must be positive integers; got {size}")
    if len(size) not in (2, 3) or array.ndim != len(size) + 1:
        raise ShapeError(
            f"resize: array must be (C, H, W) for a 2-D size or (C, D, H, W) for a 3-D size; "
            f"got shape {tuple(array.shape)} and size {size}"
        )
    if tuple(array.shape[1:]) == size:
        return array.copy() if isinstance(array, np.ndarray) else array.clone()
    if isinstance(array, np.ndarray):
        wide = array.dtype.itemsize >= 4 and array.dtype != np.float32
        work = torch.from_numpy(np.ascontiguousarray(array, dtype=np.float64 if wide else np.float32))
        out_np = _interpolate(work, size, mode).numpy()
        keep = mode == "nearest" or np.issubdtype(array.dtype, np.floating)
        return out_np.astype(array.dtype if keep else np.float32, copy=False)
    wide = array.dtype in (torch.float64, torch.int32, torch.int64)
    out_t = _interpolate(array.to(torch.float64 if wide else torch.float32), size, mode)
    keep = mode == "nearest" or array.is_floating_point()
    return out_t.to(array.dtype if keep else torch.float32)


def _interpolate(t: torch.Tensor, size: tuple[int, ...], mode: str) -> torch.Tensor:
    """``F.interpolate`` on one floating ``(C, *spatial)`` sample."""
    if mode == "nearest":
        return F.interpolate(t[None], size=size, mode="nearest-exact")[0]
    shrinking = any(s < o for s, o in zip(size, t.shape[1:], strict=True))
    interp = "bilinear" if len(size) == 2 else "trilinear"
    antialias = shrinking and len(size) == 2  # torch antialiases bilinear only
    return F.interpolate(t[None], size=size, mode=interp, align_corners=False, antialias=antialias)[0]


def to_channels(array: ArrayT, n: int) -> ArrayT:
    """Match a channel count: grey -> ``n`` channels by repetition, RGB -> grey by the channel mean.

    Args:
        array: ``(C, *spatial)``, numpy or torch.
        n: Wanted channel count.

    Returns:
        ``(n, *spatial)``; ``array`` itself when it already has ``n`` channels.

    Raises:
        ShapeError: for any other mismatch (e.g. 4 bands to 3); the message names both counts.
    """
    _check_sample(array, "to_channels")
    c = int(array.shape[0])
    if c == n:
        return array
    if c == 1:
        reps = (n,) + (1,) * (array.ndim - 1)
        return array.repeat(*reps) if isinstance(array, torch.Tensor) else np.tile(array, reps)
    if c == 3 and n == 1:
        grey = _as_float(array)
        return grey.mean(0, keepdim=True) if isinstance(grey, torch.Tensor) else grey.mean(0, keepdims=True)
    raise ShapeError(
        f"to_channels: cannot turn {c} channels into {n} (only 1 -> n and 3 -> 1); got shape {tuple(array.shape)}"
    )


def contrast_normalize(x: ArrayT) -> ArrayT:
    """Per-sample contrast normalisation: subtract the mean, divide by the mean absolute deviation.

    Statistics are over the whole sample (all channels and positions), as in FCDD. A constant sample
    becomes all zeros.

    Args:
        x: ``(C, *spatial)``, numpy or torch.

    Returns:
        Floating point, same shape and type.
    """
    x = _as_float(x)
    centred = x - x.mean()
    scale = float(abs(centred).mean())
    return centred / scale if scale > 0 else centred * 0


def equalize(x: ArrayT) -> ArrayT:
    """Per-sample histogram equalisation: each value becomes the fraction of the sample's values below or at it.

    Ranks are taken over the whole sample (all channels and positions) and rescaled so the smallest value maps
    to 0 and the largest to 1; equal values share a rank. This removes the differences of brightness and contrast
    between scanners, windows and figure exports (e.g. lung CT slices cut from papers), keeping only the order of
    intensities. A constant sample becomes all zeros.

    Args:
        x: ``(C, *spatial)``, numpy or torch.

    Returns:
        Floating point in [0, 1], same shape and type.
    """
    if isinstance(x, torch.Tensor):
        return torch.from_numpy(equalize(x.detach().cpu().numpy())).to(x.device)
    _, inverse, counts = np.unique(x.ravel(), return_inverse=True, return_counts=True)
    cdf = np.cumsum(counts).astype(np.float64)
    low, span = cdf[0], cdf[-1] - cdf[0]
    ranks = (cdf - low) / span if span > 0 else np.zeros_like(cdf)
    return ranks[inverse].reshape(x.shape).astype(np.float32)


def minmax(x: ArrayT, lo: float, hi: float) -> ArrayT:
    """Scale so that ``lo`` maps to 0 and ``hi`` to 1 (not clipped).

    Args:
        x: Any shape, numpy or torch.
        lo: Value mapped to 0.
        hi: Value mapped to 1; must exceed ``lo``.

    Returns:
        Floating point, same shape and type.

    Raises:
        ConfigError: when ``hi <= lo``.
    """
    if not float(hi) > float(lo):
        raise ConfigError(f"minmax: hi must exceed lo; got lo={lo}, hi={hi}")
    return (_as_float(x) - float(lo)) / (float(hi) - float(lo))


def window(x: ArrayT, level: float, width: float) -> ArrayT:
    """Intensity window (e.g. CT Hounsfield units): ``[level - width/2, level + width/2]`` -> [0, 1], clipped.

    Common CT windows: lung (-600, 1500), soft tissue (40, 400), bone (400, 1800).

    Args:
        x: Any shape, numpy or torch.
        level: Window centre.
        width: Window width, positive.

    Returns:
        Floating point in [0, 1], same shape and type.

    Raises:
        ConfigError: when ``width <= 0``.
    """
    if not float(width) > 0:
        raise ConfigError(f"window: width must be positive; got {width}")
    lo = float(level) - float(width) / 2.0
    return ((_as_float(x) - lo) / float(width)).clip(0.0, 1.0)


def zscore(x: ArrayT, mean: float | Sequence[float], std: float | Sequence[float]) -> ArrayT:
    """Standardise per channel (per band for cubes): ``(x - mean[c]) / std[c]``.

    Args:
        x: ``(C, *spatial)``, numpy or torch.
        mean: One value, or one per channel.
        std: One positive value, or one per channel.

    Returns:
        Floating point, same shape and type.

    Raises:
        ShapeError: when ``mean``/``std`` have neither 1 nor C values.
        ConfigError: when a std is not positive.
    """
    _check_sample(x, "zscore")
    x = _as_float(x)
    c = int(x.shape[0])
    m = np.atleast_1d(np.asarray(mean, dtype=np.float64))
    s = np.atleast_1d(np.asarray(std, dtype=np.float64))
    for name, v in (("mean", m), ("std", s)):
        if v.ndim != 1 or v.size not in (1, c):
            raise ShapeError(f"zscore: {name} must have 1 or {c} values (one per channel); got {v.size}")
    if not (s > 0).all():
        raise ConfigError(f"zscore: std must be positive; got {s.tolist()}")
    shape = (-1,) + (1,) * (x.ndim - 1)
    if isinstance(x, torch.Tensor):
        tm = torch.as_tensor(m, dtype=x.dtype, device=x.device).reshape(shape)
        ts = torch.as_tensor(s, dtype=x.dtype, device=x.device).reshape(shape)
        return (x - tm) / ts
    return (x - m.astype(x.dtype).reshape(shape)) / s.astype(x.dtype).reshape(shape)
