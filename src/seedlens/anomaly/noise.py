"""Gaussian-noise images: the FCDD reference's "noise" supervision, whole samples replaced by noise.

The reference (Liznerski et al.) trains its Fashion-MNIST and CIFAR-10 models without Outlier Exposure on images
of pixel-wise Gaussian noise: each value drawn from N(0, σ²) with σ = 64 grey levels of 255, clamped to the valid
range, then passed through the same preprocessing as a normal image. The whole image is anomalous (its map is
all ones).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from seedlens.errors import ConfigError, ShapeError

#: The reference's noise scale: 64 grey levels of 255.
REFERENCE_STD = 64.0 / 255.0

IntensityRule = Callable[[Tensor], Tensor]
"""Maps a batch ``(N, C, *spatial)`` of raw-range noise in [0, 1] to the detector's input range."""


class GaussianNoiseImages:
    """Replace samples by images of clamped Gaussian noise, mapped like the normal samples.

    Args:
        std: Noise standard deviation as a fraction of the raw value range (the reference: 64/255).
        intensity: The detector's intensity rule applied to each noise image, so that noise reaches the network
            on the same scale as a normal sample; None leaves it in [0, 1].

    Raises:
        ConfigError: ``std`` is not positive.

    Example:
        >>> noise = GaussianNoiseImages()
        >>> x_bad, masks = noise.batch(torch.rand(8, 1, 28, 28), torch.Generator().manual_seed(0))
    """

    def __init__(self, std: float = REFERENCE_STD, intensity: IntensityRule | None = None) -> None:
        if not std > 0:
            raise ConfigError(f"noise std must be > 0 (a fraction of the value range); got {std!r}")
        self.std = float(std)
        self.intensity = intensity

    def __repr__(self) -> str:
        return f"GaussianNoiseImages(std={self.std:.4g})"

    def __call__(self, x: Tensor, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        """One sample ``(C, *spatial)`` replaced by noise: ``(noise, mask of ones (1, *spatial))``."""
        out, masks = self.batch(x[None], generator)
        return out[0], masks[0]

    def batch(self, x: Tensor, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        """Every sample of ``x`` ``(N, C, *spatial)`` replaced by noise, drawn with ``generator`` on its device.

        Returns:
            ``(noise, masks)``: noise of the shape, dtype and device of ``x``, and masks ``(N, 1, *spatial)`` of ones.

        Raises:
            ShapeError: ``x`` is not a batch ``(N, C, *spatial)``.
        """
        if x.dim() < 3:
            raise ShapeError(f"x must be a batch (N, C, *spatial); got {tuple(x.shape)}")
        device = generator.device if generator is not None else x.device
        noise = torch.randn(tuple(x.shape), generator=generator, device=device).to(x.device)
        noise = (noise * self.std).clamp_(0.0, 1.0)
        if self.intensity is not None:
            noise = self.intensity(noise)
        masks = torch.ones((x.shape[0], 1, *x.shape[2:]), dtype=x.dtype, device=x.device)
        return noise.to(x.dtype), masks


def contrast_rule(low: float, high: float) -> IntensityRule:
    """The ``contrast`` intensity rule on a batch ``(N, C, *spatial)``.

    Per sample: minus its mean, over its mean absolute deviation, then ``(v - low) / (high - low)`` with the constants
    fitted on the training set (``Preprocessor.lo_`` and ``hi_``).
    """
    if not high > low:
        raise ConfigError(f"contrast rule needs high > low; got low={low!r}, high={high!r}")

    def apply(x: Tensor) -> Tensor:
        flat = x.flatten(1)
        centred = flat - flat.mean(dim=1, keepdim=True)
        scale = centred.abs().mean(dim=1, keepdim=True)
        normalised = torch.where(scale > 0, centred / scale.clamp_min(1e-12), torch.zeros_like(centred))
        return ((normalised - low) / (high - low)).reshape(x.shape)

    return apply
