"""Smooth blob footprints (rotated boxes and ellipsoids blurred by a Gaussian) in 2D and 3D."""

from __future__ import annotations

import math

import torch
from torch import Tensor


def draw_device(generator: torch.Generator | None) -> torch.device:
    """Device on which random numbers of ``generator`` are drawn."""
    return generator.device if generator is not None else torch.device("cpu")


def uniform(low: float, high: float, shape: tuple[int, ...], generator: torch.Generator | None) -> Tensor:
    """Uniform samples in ``[low, high)`` drawn with ``generator`` (float64 on its device)."""
    u = torch.rand(shape, generator=generator, device=draw_device(generator), dtype=torch.float64)
    return low + (high - low) * u


def randint(low: int, high: int, generator: torch.Generator | None) -> int:
    """One integer in ``[low, high)``."""
    return int(torch.randint(low, high, (1,), generator=generator, device=draw_device(generator)).item())


def _rotation(angles: Tensor) -> Tensor:
    """Rotation matrix: 2D from one angle, 3D from three Euler angles (radians)."""
    if angles.numel() == 1:
        c, s = torch.cos(angles[0]), torch.sin(angles[0])
        return torch.stack([torch.stack([c, -s]), torch.stack([s, c])])
    mats = []
    for axis, a in enumerate(angles):
        c, s = torch.cos(a), torch.sin(a)
        m = torch.eye(3, dtype=angles.dtype, device=angles.device)
        i, j = [k for k in range(3) if k != axis]
        m[i, i], m[i, j], m[j, i], m[j, j] = c, -s, s, c
        mats.append(m)
    return mats[0] @ mats[1] @ mats[2]


def blob_footprints(
    spatial: tuple[int, ...],
    count: int,
    size_fraction: tuple[float, float],
    rotation_deg: float,
    sigma: float,
    shapes: tuple[str, ...],
    generator: torch.Generator | None,
    device: torch.device,
) -> Tensor:
    """``count`` smooth footprints in [0, 1], ``(count, *spatial)`` float32 on ``device``.

    Each blob is a box or an ellipsoid with side lengths ``size_fraction`` of each axis, a random centre inside
    the array and a rotation of up to ±``rotation_deg`` about every axis, blurred by a Gaussian of std ``sigma``
    pixels (boxes exactly, via erf; ellipsoids approximately, along the ray from their centre).
    """
    dims = len(spatial)
    extent = torch.tensor(spatial, dtype=torch.float64, device=draw_device(generator))
    grids = torch.meshgrid(*[torch.arange(n, dtype=torch.float32, device=device) for n in spatial], indexing="ij")
    coords = torch.stack(grids)  # (dims, *spatial)
    s2 = max(sigma, 1e-3) * math.sqrt(2.0)
    out = []
    for _ in range(count):
        half = 0.5 * uniform(*size_fraction, (dims,), generator) * extent
        centre = uniform(0.0, 1.0, (dims,), generator) * (extent - 1)
        n_angles = 1 if dims == 2 else 3
        angles = uniform(-rotation_deg, rotation_deg, (n_angles,), generator) * (math.pi / 180.0)
        shape = shapes[randint(0, len(shapes), generator)]
        rot = _rotation(angles).to(device, torch.float32)
        d = coords - centre.to(device, torch.float32).view(dims, *([1] * dims))
        q = torch.einsum("ij,i...->j...", rot, d)  # coordinates in the blob's frame
        h = half.to(device, torch.float32).view(dims, *([1] * dims))
        if shape == "box":
            profile = 0.5 * (torch.erf((h - q) / s2) + torch.erf((h + q) / s2))
            blob = profile.prod(dim=0)
        else:
            r = torch.sqrt(((q / h) ** 2).sum(dim=0))
            length = torch.where(r > 1e-6, torch.sqrt((q**2).sum(dim=0)) / r.clamp_min(1e-6), h.min())
            blob = 0.5 * torch.erfc((r - 1.0) * length / s2)
        out.append(blob.clamp(0.0, 1.0))
    return torch.stack(out)
