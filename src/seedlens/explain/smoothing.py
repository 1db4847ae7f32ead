"""Gaussian smoothing of 2D and 3D maps (used for gradient and reconstruction-error heatmaps)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def gaussian_blur(maps: torch.Tensor, sigma: float) -> torch.Tensor:
    """Smooth maps ``(N, C, H, W)`` or ``(N, C, D, H, W)`` with a separable Gaussian of std ``sigma`` pixels.

    Borders are reflected, so the output has the input's shape. ``sigma <= 0`` returns the input.
    """
    if sigma <= 0:
        return maps
    radius = max(1, round(3 * sigma))
    coords = torch.arange(-radius, radius + 1, dtype=maps.dtype, device=maps.device)
    kernel = torch.exp(-0.5 * (coords / sigma) ** 2)
    kernel = kernel / kernel.sum()
    spatial_dims = maps.ndim - 2
    channels = maps.shape[1]
    out = maps
    conv = F.conv3d if spatial_dims == 3 else F.conv2d
    for axis in range(spatial_dims):
        shape = [1] * spatial_dims
        shape[axis] = kernel.numel()
        weight = kernel.reshape(1, 1, *shape).repeat(channels, 1, *([1] * spatial_dims))
        pad = [0, 0] * spatial_dims
        # F.pad orders pairs from the last axis backwards
        pad[2 * (spatial_dims - 1 - axis)] = radius
        pad[2 * (spatial_dims - 1 - axis) + 1] = radius
        size = out.shape[2 + axis]
        mode = "reflect" if size > radius else "replicate"
        out = conv(F.pad(out, pad, mode=mode), weight, groups=channels)
    return out
