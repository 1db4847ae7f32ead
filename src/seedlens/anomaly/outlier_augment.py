"""Strong augmentation of outlier batches, so that a few (or one) outlier images give a new outlier at every draw.

Everything runs batched on the batch's own device: one random affine map per sample (a random resized crop, a
rotation and flips in one ``grid_sample``) and an intensity jitter (contrast, brightness and a per-channel gain:
colour jitter for RGB, a spectral tilt for cubes). Images ``(N, C, H, W)``, cubes ``(N, bands, H, W)`` and volumes
``(N, C, D, H, W)`` alike.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from seedlens.errors import ConfigError, ShapeError

__all__ = ["OutlierAugment"]


@dataclass(frozen=True)
class OutlierAugment:
    """Random resized crops, rotations, flips and intensity jitter of a batch, drawn per sample.

    Attributes:
        min_area: Smallest share of the sample's area (volume in 3D) a crop covers before it is resized back to
            the full size (torchvision's ``RandomResizedCrop`` scale; its aspect jitter is ``aspect``).
        aspect: Largest aspect-ratio change of a crop (``3/4 .. 4/3`` by default).
        max_rotation: Largest rotation in degrees, either way (180: any orientation; seeds and scans have none).
            In 3D about a random axis.
        flips: Flip each spatial axis with probability 0.5.
        jitter: Contrast and brightness change (a factor in ``1 ± jitter``, a shift of ``± jitter`` standard
            deviations) and, for several channels, a per-channel gain in ``1 ± jitter / 2``. Values stay within
            the sample's own range.
    """

    min_area: float = 0.25
    aspect: float = 4.0 / 3.0
    max_rotation: float = 180.0
    flips: bool = True
    jitter: float = 0.4

    def __post_init__(self) -> None:
        if not 0.0 < self.min_area <= 1.0:
            raise ConfigError(f"min_area must lie in (0, 1]; got {self.min_area!r}")
        if not self.aspect >= 1.0:
            raise ConfigError(f"aspect must be >= 1; got {self.aspect!r}")
        if not 0.0 <= self.max_rotation <= 180.0:
            raise ConfigError(f"max_rotation must lie in [0, 180] degrees; got {self.max_rotation!r}")
        if not 0.0 <= self.jitter < 1.0:
            raise ConfigError(f"jitter must lie in [0, 1); got {self.jitter!r}")

    def __call__(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """Augment a batch ``(N, C, *spatial)`` (2 or 3 spatial axes); returns a new tensor of the same shape.

        Raises:
            ShapeError: ``x`` is not a batch of images, cubes or volumes.
        """
        if x.dim() not in (4, 5):
            raise ShapeError(f"OutlierAugment takes (N, C, H, W) or (N, C, D, H, W); got {tuple(x.shape)}")
        n = x.shape[0]
        if n == 0:
            return x
        theta = self._affine(n, x.dim() - 2, generator).to(x.device, torch.float32)
        grid = F.affine_grid(theta, list(x.shape), align_corners=False)
        out = F.grid_sample(x.float(), grid, mode="bilinear", padding_mode="reflection", align_corners=False)
        return self._intensity(out, x.float(), generator).to(x.dtype)

    def _uniform(self, shape: tuple[int, ...], low: float, high: float, generator: torch.Generator | None) -> Tensor:
        device = generator.device if generator is not None else torch.device("cpu")
        return low + (high - low) * torch.rand(shape, generator=generator, device=device)

    def _affine(self, n: int, dims: int, generator: torch.Generator | None) -> Tensor:
        """``(N, dims, dims + 1)``: output coordinates to input coordinates, in ``affine_grid``'s [-1, 1] frame."""
        area = self._uniform((n,), self.min_area, 1.0, generator)
        log_aspect = self._uniform((n, dims), -math.log(self.aspect) / 2, math.log(self.aspect) / 2, generator)
        log_aspect = log_aspect - log_aspect.mean(dim=1, keepdim=True)  # the crop keeps its area
        side = (area[:, None] ** (1.0 / dims) * log_aspect.exp()).clamp(max=1.0)  # (N, dims), share of each axis
        angle = self._uniform((n,), -math.radians(self.max_rotation), math.radians(self.max_rotation), generator)
        rotation = _rotations(angle, dims, generator)
        if self.flips:
            signs = torch.where(self._uniform((n, dims), 0.0, 1.0, generator) < 0.5, -1.0, 1.0)
        else:
            signs = torch.ones((n, dims), device=side.device)
        linear = rotation @ torch.diag_embed(side * signs)
        offset = self._uniform((n, dims), -1.0, 1.0, generator) * (1.0 - side)  # the crop's centre stays inside
        return torch.cat([linear, offset[:, :, None]], dim=2)

    def _intensity(self, x: Tensor, original: Tensor, generator: torch.Generator | None) -> Tensor:
        if self.jitter == 0.0:
            return x
        n, c = x.shape[:2]
        view = (n, 1, *([1] * (x.dim() - 2)))
        flat = x.flatten(1)
        mean, std = flat.mean(dim=1).reshape(view), flat.std(dim=1).reshape(view)
        contrast = self._uniform((n,), 1.0 - self.jitter, 1.0 + self.jitter, generator).to(x.device).reshape(view)
        shift = self._uniform((n,), -self.jitter, self.jitter, generator).to(x.device).reshape(view) * std
        out = (x - mean) * contrast + mean + shift
        if c > 1:
            gain = self._uniform((n, c), 1.0 - self.jitter / 2, 1.0 + self.jitter / 2, generator).to(x.device)
            out = (out - mean) * gain.reshape(n, c, *([1] * (x.dim() - 2))) + mean
        lo = original.flatten(1).amin(dim=1).reshape(view)
        hi = original.flatten(1).amax(dim=1).reshape(view)
        return torch.maximum(torch.minimum(out, hi), lo)


def _rotations(angle: Tensor, dims: int, generator: torch.Generator | None) -> Tensor:
    """Rotation matrices ``(N, dims, dims)`` by ``angle`` (radians): in the plane (2D) or about a random axis (3D)."""
    cos, sin = angle.cos(), angle.sin()
    if dims == 2:
        return torch.stack([torch.stack([cos, -sin], dim=1), torch.stack([sin, cos], dim=1)], dim=1)
    device = generator.device if generator is not None else torch.device("cpu")
    axis = torch.randn((angle.shape[0], 3), generator=generator, device=device)
    axis = axis / axis.norm(dim=1, keepdim=True).clamp(min=1e-8)
    zero = torch.zeros_like(angle)
    kx, ky, kz = axis.unbind(dim=1)
    cross = torch.stack([torch.stack([zero, -kz, ky], 1), torch.stack([kz, zero, -kx], 1),
                         torch.stack([-ky, kx, zero], 1)], dim=1)
    eye = torch.eye(3, device=device).expand(angle.shape[0], 3, 3)
    # Rodrigues: I + sin(t) K + (1 - cos(t)) K²
    return eye + sin[:, None, None] * cross + (1 - cos)[:, None, None] * (cross @ cross)
