"""Smooth blob footprints (rotated boxes, ellipsoids and plates blurred by a Gaussian) in 2D and 3D."""

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


#: Shapes :func:`blob_footprints` can draw.
SHAPES = ("box", "ellipsoid", "plate")

#: Range of the factor by which a plate's thin axis is flattened (relative to the ellipsoid it derives from).
PLATE_RATIO = (0.15, 0.35)

#: Largest factor between an axis of a volume-sized blob and the geometric mean of its axes (before flattening).
MAX_ELONGATION = 2.0


def _unit_volume(shape: str, dims: int) -> float:
    """Volume of the shape with half-axes 1: a box 2^d, an ellipse π, an ellipsoid 4π/3."""
    if shape == "box":
        return float(2**dims)
    return math.pi if dims == 2 else 4.0 * math.pi / 3.0


def _half_axes(
    shape: str,
    dims: int,
    extent: Tensor,
    size_fraction: tuple[float, float],
    volume: tuple[float, float] | None,
    generator: torch.Generator | None,
) -> Tensor:
    """Half side lengths of one blob in pixels (float64, on the generator's device)."""
    if volume is None:
        half = 0.5 * uniform(*size_fraction, (dims,), generator) * extent
        if shape == "plate":  # the thinnest axis flattened, the blob keeps its other sides
            axis = randint(0, dims, generator)
            half[axis] = half[axis] * uniform(*PLATE_RATIO, (1,), generator)[0]
        return half
    lo, hi = math.log(max(volume[0], 1e-9)), math.log(max(volume[1], 1e-9))
    target = math.exp(float(uniform(lo, hi, (1,), generator)[0]))  # log-uniform volume in pixels
    log_aspect = uniform(-math.log(MAX_ELONGATION), math.log(MAX_ELONGATION), (dims,), generator)
    log_aspect = log_aspect - log_aspect.mean()  # product of the aspect factors is 1
    if shape == "plate":
        axis = randint(0, dims, generator)
        log_aspect[axis] += math.log(float(uniform(*PLATE_RATIO, (1,), generator)[0]))
        log_aspect = log_aspect - log_aspect.mean()  # flattened, same volume
    radius = (target / _unit_volume(shape, dims)) ** (1.0 / dims)
    return radius * torch.exp(log_aspect)


def blob_footprints(
    spatial: tuple[int, ...],
    count: int,
    size_fraction: tuple[float, float],
    rotation_deg: float,
    sigma: float,
    shapes: tuple[str, ...],
    generator: torch.Generator | None,
    device: torch.device,
    *,
    volume: tuple[float, float] | None = None,
    centres: Tensor | None = None,
) -> Tensor:
    """``count`` smooth footprints in [0, 1], ``(count, *spatial)`` float32 on ``device``.

    Each blob is a box, an ellipsoid or a plate (an ellipsoid with one axis flattened to
    :data:`PLATE_RATIO` — a thin sheet in 3D, a thin streak in 2D), with a random centre and a rotation of up to
    ±``rotation_deg`` about every axis, blurred by a Gaussian of std ``sigma`` pixels (boxes exactly, via erf;
    ellipsoids approximately, along the ray from their centre).

    Args:
        spatial: Array shape ``(H, W)`` or ``(D, H, W)``.
        count: Number of blobs.
        size_fraction: Range of side lengths as fractions of each axis (used when ``volume`` is None).
        rotation_deg: Largest rotation in degrees.
        sigma: Blur std in pixels.
        shapes: Shapes to draw from (:data:`SHAPES`).
        generator: Random generator.
        device: Device of the footprints.
        volume: Range of blob volumes (areas in 2D) in pixels, drawn log-uniformly; the axes get random
            aspect ratios within a factor :data:`MAX_ELONGATION` of each other. None draws per-axis side
            lengths from ``size_fraction`` instead.
        centres: Candidate centre positions ``(M, dims)`` in pixel coordinates, one drawn per blob; None draws
            centres uniformly inside the array.
    """
    dims = len(spatial)
    extent = torch.tensor(spatial, dtype=torch.float64, device=draw_device(generator))
    grids = torch.meshgrid(*[torch.arange(n, dtype=torch.float32, device=device) for n in spatial], indexing="ij")
    coords = torch.stack(grids)  # (dims, *spatial)
    s2 = max(sigma, 1e-3) * math.sqrt(2.0)
    out = []
    for _ in range(count):
        shape = shapes[randint(0, len(shapes), generator)]
        half = _half_axes(shape, dims, extent, size_fraction, volume, generator)
        if centres is None or centres.shape[0] == 0:
            centre = uniform(0.0, 1.0, (dims,), generator) * (extent - 1)
        else:
            centre = centres[randint(0, centres.shape[0], generator)].to(extent)
        n_angles = 1 if dims == 2 else 3
        angles = uniform(-rotation_deg, rotation_deg, (n_angles,), generator) * (math.pi / 180.0)
        rot = _rotation(angles).to(device, torch.float32)
        d = coords - centre.to(device, torch.float32).view(dims, *([1] * dims))
        q = torch.einsum("ij,i...->j...", rot, d)  # coordinates in the blob's frame
        h = half.to(device, torch.float32).clamp_min(1e-3).view(dims, *([1] * dims))
        if shape == "box":
            profile = 0.5 * (torch.erf((h - q) / s2) + torch.erf((h + q) / s2))
            blob = profile.prod(dim=0)
        else:
            r = torch.sqrt(((q / h) ** 2).sum(dim=0))
            length = torch.where(r > 1e-6, torch.sqrt((q**2).sum(dim=0)) / r.clamp_min(1e-6), h.min())
            blob = 0.5 * torch.erfc((r - 1.0) * length / s2)
        out.append(blob.clamp(0.0, 1.0))
    return torch.stack(out)
