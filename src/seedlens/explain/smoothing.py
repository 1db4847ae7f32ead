"""Gaussian smoothing of full-resolution maps (gradient and reconstruction-error heatmaps), 2D and 3D."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from seedlens.errors import ConfigError, ShapeError

_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}


def gaussian_blur(maps: torch.Tensor, sigma: float, truncate: float = 3.0) -> torch.Tensor:
    """Blur maps with an isotropic Gaussian of standard deviation ``sigma`` pixels/voxels.

    The blur is separable (one 1D convolution per spatial axis), keeps the shape, and replicates the border so
    edges are not darkened. It is differentiable. Baselines whose maps are already at input resolution
    (HSC input gradients, autoencoder reconstruction errors) use it where FCDD uses
    :class:`~seedlens.explain.ReceptiveFieldUpsampler`.

    Args:
        maps: ``(N, C, *spatial)`` with 1–3 spatial axes, e.g. ``(N, 1, H, W)`` or ``(N, 1, D, H, W)``.
        sigma: Standard deviation in pixels; ``sigma <= 0`` returns ``maps`` unchanged.
        truncate: Kernel radius in standard deviations.

    Returns:
        The blurred maps, same shape, dtype and device.

    Raises:
        ConfigError: ``sigma`` is not a number or ``truncate`` is not positive.
        ShapeError: ``maps`` does not have 1–3 spatial axes.
    """
    if isinstance(sigma, bool) or not isinstance(sigma, int | float):
        raise ConfigError(f"sigma must be a number of pixels; got {sigma!r}")
    if not truncate > 0:
        raise ConfigError(f"truncate must be positive; got {truncate!r}")
    dims = maps.ndim - 2
    if dims not in _CONV:
        raise ShapeError(f"maps must be (N, C, *spatial) with 1-3 spatial axes; got shape {tuple(maps.shape)}")
    if sigma <= 0:
        return maps
    radius = max(1, math.ceil(truncate * sigma))
    taps = torch.arange(-radius, radius + 1, dtype=torch.float64)
    kernel = torch.exp(-0.5 * (taps / sigma) ** 2)
    kernel = (kernel / kernel.sum()).to(dtype=maps.dtype, device=maps.device)
    n, c = maps.shape[:2]
    x = maps.reshape(n * c, 1, *maps.shape[2:])
    for axis in range(dims):
        shape = [1] * dims
        shape[axis] = kernel.numel()
        pads = [0] * (2 * dims)
        pads[2 * (dims - 1 - axis)] = pads[2 * (dims - 1 - axis) + 1] = radius  # F.pad lists the last axis first
        x = _CONV[dims](F.pad(x, pads, mode="replicate"), kernel.view(1, 1, *shape))
    return x.reshape(maps.shape)
