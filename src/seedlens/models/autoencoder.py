"""Convolutional autoencoder: the reconstruction-error baseline for 2D and 3D inputs."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from seedlens.errors import ShapeError
from seedlens.models._options import int_in_range, norm_kind, positive_int
from seedlens.models.layers import FeatureBuilder, make_activation, norm_cls

_CONV_T: dict[int, type[nn.Module]] = {1: nn.ConvTranspose1d, 2: nn.ConvTranspose2d, 3: nn.ConvTranspose3d}
_LAYOUT = {1: "(N, C, L)", 2: "(N, C, H, W)", 3: "(N, C, D, H, W)"}


class ConvAutoencoder(nn.Module):
    """Encoder-decoder that reconstructs its input: ``(N, C, *spatial) -> (N, C, *spatial)``.

    The encoder has ``depth`` levels, each conv3-norm-LeakyReLU then a 2× max-pool, with
    ``base_channels * 2**level`` channels; the decoder mirrors it with 2× transposed convolutions, and a final
    1×1 conv maps back to ``in_channels`` (linear output, so any intensity range can be reconstructed). There
    are no skip connections, so the bottleneck (``1 / 2**depth`` of each side) has to summarise the sample.

    Sizes: an input whose spatial sizes are multiples of ``2**depth`` is reconstructed at exactly its shape.
    Other sizes are padded at the end of each axis (replicating the border) up to the next multiple, and the
    reconstruction is cropped back, so the output always has the input's shape.

    Args:
        spatial_dims: 2 for images and cubes, 3 for volumes.
        in_channels: Channels (bands) of the input.
        base_channels: Channels of the first level; doubled at every level.
        depth: Number of pooling levels, 1–6.
        norm: ``"batch"`` (default), ``"instance"``, ``"group"`` or None.
    """

    def __init__(
        self, spatial_dims: int, in_channels: int, base_channels: int = 32, depth: int = 3, norm: str | None = "batch"
    ) -> None:
        super().__init__()
        self.spatial_dims = int_in_range("spatial_dims", spatial_dims, 1, 3)
        self.in_channels = positive_int("in_channels", in_channels)
        self.depth = int_in_range("depth", depth, 1, 6)
        base = positive_int("base_channels", base_channels)
        norm = norm_kind(norm)
        widths = [base * 2**level for level in range(self.depth)]

        encoder = FeatureBuilder(self.spatial_dims, self.in_channels)
        for width in widths:
            encoder.conv(width, kernel=3, padding=1, bias=norm is None).norm(norm).act("leaky_relu").pool(2)
        self.encoder = encoder.build()

        decoder: list[nn.Module] = []
        for width_in, width_out in zip(reversed(widths), [*reversed(widths[:-1]), base], strict=True):
            decoder.append(_CONV_T[self.spatial_dims](width_in, width_out, kernel_size=2, stride=2))
            decoder.append(_norm(self.spatial_dims, norm, width_out))
            decoder.append(make_activation("leaky_relu"))
        decoder.append(FeatureBuilder(self.spatial_dims, base).conv(self.in_channels, kernel=1).build())
        self.decoder = nn.Sequential(*decoder)

    def _check(self, x: torch.Tensor) -> None:
        if x.ndim != self.spatial_dims + 2 or x.shape[1] != self.in_channels:
            raise ShapeError(
                f"autoencoder input must be {_LAYOUT[self.spatial_dims]} with C={self.in_channels}; "
                f"got shape {tuple(x.shape)}"
            )

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Return the bottleneck code ``(N, base_channels * 2**(depth-1), *ceil(spatial / 2**depth))``."""
        self._check(x)
        return self.encoder(self._pad(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Reconstruct ``x`` ``(N, C, *spatial)``; the output has exactly the input's shape.

        Raises:
            ShapeError: wrong number of axes or channels.
        """
        self._check(x)
        out = self.decoder(self.encoder(self._pad(x)))
        crop = tuple(slice(0, s) for s in x.shape[2:])
        return out[(slice(None), slice(None), *crop)]

    def _pad(self, x: torch.Tensor) -> torch.Tensor:
        """Pad the end of each spatial axis up to a multiple of ``2**depth`` (border replicated)."""
        factor = 2**self.depth
        extra = [(-s) % factor for s in x.shape[2:]]
        if not any(extra):
            return x
        pads: list[int] = []
        for e in reversed(extra):  # F.pad lists the last axis first
            pads += [0, e]
        return F.pad(x, pads, mode="replicate")


def _norm(spatial_dims: int, kind: str | None, channels: int) -> nn.Module:
    """Norm module over ``channels`` (group norm with up to 8 groups)."""
    if kind is None:
        return nn.Identity()
    if kind == "group":
        groups = min(8, channels)
        while channels % groups:
            groups -= 1
        return nn.GroupNorm(groups, channels)
    return norm_cls(spatial_dims, kind)(channels)
