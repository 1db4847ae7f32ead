"""Receptive-field upsampling: a low-resolution score map back to a full-resolution heatmap (FCDD, 2D and 3D).

Each score-map cell is replaced by a Gaussian the size of its receptive field, centred where the cell looks in
the input: a transposed convolution with a fixed Gaussian kernel and a stride equal to the receptive field's
jump, followed by a crop/shift to the input size.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from seedlens.errors import ConfigError, ShapeError
from seedlens.models.receptive_field import ReceptiveField

_CONV_T: dict[int, Callable[..., torch.Tensor]] = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}


class ReceptiveFieldUpsampler(nn.Module):
    """Upsample score maps ``(N, 1, *s')`` to heatmaps ``(N, 1, *output_size)`` with a receptive-field Gaussian.

    The kernel is ``r`` taps long per axis (``r×r`` in 2D, ``r×r×r`` in 3D; ``r`` = receptive-field extent), a
    Gaussian of standard deviation ``sigma`` pixels/voxels, applied with stride ``jump``. A unit impulse at map
    cell ``o`` becomes a Gaussian bump centred at input position ``o * jump + shift`` (exact, also for
    half-integer shifts: the Gaussian's mean is placed between kernel taps where needed, and the remaining
    integer offset is a crop).

    Scaling: the kernel sums to ``jump ** spatial_dims``, so the mean level is kept — a constant score map gives
    a heatmap of (about) the same constant away from the borders, and ``heatmap.mean() ≈ score_map.mean()``.
    The Gaussian is truncated to the ``r`` taps: with ``sigma`` above ``r / 4`` its measured spread is smaller
    than ``sigma``. Pixels no cell reaches (beyond the last cell's receptive field) are 0.

    Non-integer receptive fields: ``extent`` and ``jump`` are rounded to the nearest integer (at least 1); a
    jump below 0.5 (a network that upsamples) is rejected. ``shift`` is used exactly.

    Args:
        receptive_field: Receptive field of one map cell (e.g. ``FCDDNet.receptive_field``).
        spatial_dims: 1, 2 or 3.
        sigma: Standard deviation of the Gaussian in input pixels (FCDD: 1.2 for 28/32 px images, 8 for
            ImageNet, 12 for MVTec-AD).

    Raises:
        ConfigError: ``sigma`` is not positive, ``spatial_dims`` is not 1–3, or the jump is below 0.5.
    """

    kernel_1d: torch.Tensor

    def __init__(self, receptive_field: ReceptiveField, spatial_dims: int, sigma: float) -> None:
        super().__init__()
        if spatial_dims not in _CONV_T:
            raise ConfigError(f"spatial_dims must be 1, 2 or 3; got {spatial_dims!r}")
        if isinstance(sigma, bool) or not isinstance(sigma, int | float) or not sigma > 0:
            raise ConfigError(f"sigma must be a positive number of pixels; got {sigma!r}")
        if receptive_field.jump < 0.5:
            raise ConfigError(f"receptive-field jump must be at least 1 pixel; got {receptive_field.jump}")
        self.spatial_dims = int(spatial_dims)
        self.sigma = float(sigma)
        self.receptive_field = receptive_field
        self.kernel_size = max(1, round(receptive_field.extent))
        self.stride = max(1, round(receptive_field.jump))
        # out[x] = raw[x + offset]; the Gaussian's mean sits at kernel tap `mean`, so that cell o peaks at
        # x = o * stride + mean - offset = o * stride + shift.
        self.offset = round((self.kernel_size - 1) / 2 - receptive_field.shift)
        mean = receptive_field.shift + self.offset
        taps = torch.arange(self.kernel_size, dtype=torch.float64)
        gauss = torch.exp(-0.5 * ((taps - mean) / self.sigma) ** 2)
        kernel = gauss / gauss.sum() * self.stride
        self.register_buffer("kernel_1d", kernel.float(), persistent=False)

    def forward(self, score_map: torch.Tensor, output_size: Sequence[int]) -> torch.Tensor:
        """Return the heatmap of ``score_map`` at exactly ``output_size``.

        Args:
            score_map: ``(N, 1, *s')`` (any channel count works; channels are upsampled independently).
            output_size: Spatial size of the input the map came from, ``(H, W)`` or ``(D, H, W)``.

        Returns:
            ``(N, 1, *output_size)``, same dtype and device as ``score_map`` (also under autocast).

        Raises:
            ShapeError: ``score_map`` does not have ``spatial_dims + 2`` axes, or ``output_size`` has the wrong
                length or a non-positive size.
        """
        d = self.spatial_dims
        if score_map.ndim != d + 2:
            layout = {1: "(N, 1, L)", 2: "(N, 1, H, W)", 3: "(N, 1, D, H, W)"}[d]
            raise ShapeError(f"score map must be {layout}; got shape {tuple(score_map.shape)}")
        # Sizes read off a traced input stay tensors, so an exported graph crops to each input's own size.
        size = tuple(s if isinstance(s, torch.Tensor) else int(s) for s in output_size)
        if len(size) != d or any(not isinstance(s, torch.Tensor) and s < 1 for s in size):
            raise ShapeError(f"output_size must be {d} positive sizes; got {tuple(output_size)}")
        n, c = score_map.shape[:2]
        x = score_map.reshape(n * c, 1, *score_map.shape[2:])
        kernel = self.kernel_1d.to(dtype=x.dtype, device=x.device)
        # Runs in the map's own dtype: under autocast a float32 map stays float32 (the op is cheap).
        with torch.autocast(device_type=x.device.type, enabled=False):
            for axis in range(d):  # the Gaussian is separable: one 1D transposed conv per axis
                shape = [1] * d
                shape[axis] = self.kernel_size
                stride = [1] * d
                stride[axis] = self.stride
                x = _CONV_T[d](x, kernel.view(1, 1, *shape), stride=tuple(stride))
        pads: list[int] = []
        for axis in reversed(range(d)):  # F.pad lists the last axis first; negative pads crop
            raw = x.shape[2 + axis]
            pads += [-self.offset, size[axis] + self.offset - raw]
        x = F.pad(x, pads)
        return x.reshape(n, c, *size)

    def extra_repr(self) -> str:
        """Kernel size, stride, σ and crop offset, shown in ``repr``."""
        return f"kernel_size={self.kernel_size}, stride={self.stride}, sigma={self.sigma:g}, offset={self.offset}"
