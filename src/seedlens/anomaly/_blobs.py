"""Smooth blob footprints (rotated boxes, ellipsoids and plates blurred by a Gaussian) in 2D and 3D, batched.

Every random quantity of a batch of blobs is drawn at once (tensors ``(N, B, ...)`` for N samples of B blobs) on
the generator's device, and footprints are rendered blob slot by blob slot for the whole batch on the samples'
device: anomaly synthesis runs where the network trains, without a Python loop over samples.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

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


def randints(low: int, high: int, shape: tuple[int, ...], generator: torch.Generator | None) -> Tensor:
    """Integers in ``[low, high)`` of ``shape`` (int64 on the generator's device)."""
    return torch.randint(low, high, shape, generator=generator, device=draw_device(generator))


#: Shapes blobs can take.
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


def rotations(angles: Tensor) -> Tensor:
    """Rotation matrices ``(..., d, d)`` from angles ``(..., 1)`` (2D) or Euler angles ``(..., 3)`` (3D), radians."""
    c, s = torch.cos(angles), torch.sin(angles)
    if angles.shape[-1] == 1:
        c, s = c[..., 0], s[..., 0]
        return torch.stack([torch.stack([c, -s], -1), torch.stack([s, c], -1)], -2)
    mats = []
    for axis in range(3):
        m = torch.zeros((*angles.shape[:-1], 3, 3), dtype=angles.dtype, device=angles.device)
        m[..., axis, axis] = 1.0
        i, j = [k for k in range(3) if k != axis]
        m[..., i, i], m[..., i, j], m[..., j, i], m[..., j, j] = c[..., axis], -s[..., axis], s[..., axis], c[..., axis]
        mats.append(m)
    return mats[0] @ mats[1] @ mats[2]


@dataclass
class Blobs:
    """The parameters of ``B`` blob slots for each of ``N`` samples (all float64 / int64, one device).

    Attributes:
        shape: Index into the shapes drawn from ``(N, B)``.
        half: Half side lengths in pixels ``(N, B, dims)``.
        centre: Centres in pixel coordinates ``(N, B, dims)``.
        rotation: Rotation matrices ``(N, B, dims, dims)``.
    """

    shape: Tensor
    half: Tensor
    centre: Tensor
    rotation: Tensor


def draw_blobs(
    n: int,
    slots: int,
    spatial: tuple[int, ...],
    size_fraction: tuple[float, float],
    rotation_deg: float,
    shapes: tuple[str, ...],
    generator: torch.Generator | None,
    *,
    volume: Tensor | None = None,
    foreground: Tensor | None = None,
) -> Blobs:
    """Draw ``slots`` blobs for each of ``n`` samples.

    Args:
        n: Samples.
        slots: Blobs per sample.
        spatial: Array shape ``(H, W)`` or ``(D, H, W)``.
        size_fraction: Range of side lengths as fractions of each axis (used when ``volume`` is None).
        rotation_deg: Largest rotation in degrees, about every axis.
        shapes: Shapes to draw from (:data:`SHAPES`).
        generator: Random generator (its device is where everything is drawn).
        volume: ``(n, 2)`` range of blob volumes (areas in 2D) in pixels per sample, drawn log-uniformly, the axes
            with random aspect ratios within a factor :data:`MAX_ELONGATION` of each other; None draws per-axis
            side lengths from ``size_fraction``.
        foreground: bool ``(n, *spatial)``: centres are drawn on it (uniformly inside the array for a sample
            without any); None draws every centre uniformly inside the array.
    """
    dims = len(spatial)
    device = draw_device(generator)
    extent = torch.tensor(spatial, dtype=torch.float64, device=device)
    shape = randints(0, len(shapes), (n, slots), generator)
    plate = torch.tensor([s == "plate" for s in shapes], device=device)[shape]
    thin = randints(0, dims, (n, slots), generator)
    flatten = uniform(*PLATE_RATIO, (n, slots), generator)
    thin_axis = torch.nn.functional.one_hot(thin, dims).bool() & plate[..., None]
    if volume is None:
        half = 0.5 * uniform(*size_fraction, (n, slots, dims), generator) * extent
        half = torch.where(thin_axis, half * flatten[..., None], half)
    else:
        bounds = volume.to(device, torch.float64).clamp_min(1e-9).log()
        target = torch.exp(bounds[:, :1] + (bounds[:, 1:] - bounds[:, :1]) * uniform(0, 1, (n, slots), generator))
        log_aspect = uniform(-math.log(MAX_ELONGATION), math.log(MAX_ELONGATION), (n, slots, dims), generator)
        log_aspect = log_aspect - log_aspect.mean(-1, keepdim=True)  # product of the aspect factors is 1
        log_aspect = log_aspect + torch.where(thin_axis, flatten.log()[..., None], 0.0)
        log_aspect = log_aspect - log_aspect.mean(-1, keepdim=True)  # flattened, same volume
        unit = torch.tensor([_unit_volume(s, dims) for s in shapes], dtype=torch.float64, device=device)[shape]
        half = (target / unit)[..., None] ** (1.0 / dims) * torch.exp(log_aspect)
    centre = uniform(0.0, 1.0, (n, slots, dims), generator) * (extent - 1)
    if foreground is not None:
        weights = foreground.reshape(n, -1).to(device, torch.float64)
        has = weights.sum(-1) > 0
        if bool(has.any()):
            picked = torch.multinomial(weights[has], slots, replacement=True, generator=generator)
            coords = torch.stack(torch.unravel_index(picked, spatial), -1).to(torch.float64)
            centre[has] = coords
    angles = uniform(-rotation_deg, rotation_deg, (n, slots, 1 if dims == 2 else 3), generator) * (math.pi / 180.0)
    return Blobs(shape, half, centre, rotations(angles))


def render(blobs: Blobs, slot: int, spatial: tuple[int, ...], sigma: float, shapes: tuple[str, ...],
           device: torch.device) -> Tensor:
    """The footprints in [0, 1] of blob slot ``slot`` of every sample, ``(N, *spatial)`` float32 on ``device``.

    A box is blurred exactly (via erf) by a Gaussian of std ``sigma`` pixels; ellipsoids and plates approximately,
    along the ray from their centre.
    """
    dims = len(spatial)
    grids = torch.meshgrid(*[torch.arange(n, dtype=torch.float32, device=device) for n in spatial], indexing="ij")
    coords = torch.stack(grids)  # (dims, *spatial)
    view = (-1, dims, *([1] * dims))
    d = coords[None] - blobs.centre[:, slot].to(device, torch.float32).reshape(view)
    q = torch.einsum("nij,ni...->nj...", blobs.rotation[:, slot].to(device, torch.float32), d)  # the blob's frame
    h = blobs.half[:, slot].to(device, torch.float32).clamp_min(1e-3).reshape(view)
    s2 = max(sigma, 1e-3) * math.sqrt(2.0)
    box = (0.5 * (torch.erf((h - q) / s2) + torch.erf((h + q) / s2))).prod(dim=1)
    r = torch.sqrt(((q / h) ** 2).sum(dim=1))
    length = torch.where(r > 1e-6, torch.sqrt((q**2).sum(dim=1)) / r.clamp_min(1e-6), h.amin(dim=1))
    round_blob = 0.5 * torch.erfc((r - 1.0) * length / s2)
    is_box = torch.tensor([s == "box" for s in shapes], device=device)[blobs.shape[:, slot].to(device)]
    return torch.where(is_box.reshape(-1, *([1] * dims)), box, round_blob).clamp(0.0, 1.0)


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
    """``count`` smooth footprints in [0, 1] of one sample, ``(count, *spatial)`` float32 on ``device``."""
    blobs = draw_blobs(1, count, spatial, size_fraction, rotation_deg, shapes, generator)
    return torch.cat([render(blobs, slot, spatial, sigma, shapes, device) for slot in range(count)])
