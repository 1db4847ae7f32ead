"""``spectral``: a spectral-spatial net for hyperspectral cubes of any band count."""

from __future__ import annotations

from seedlens.models._options import channel_tuple, norm_kind, positive_int
from seedlens.models.backbones.registry import BACKBONES
from seedlens.models.backbones.sequential import SequentialBackbone
from seedlens.models.layers import FeatureBuilder
from seedlens.types import Modality


@BACKBONES.register("spectral", summary="spectral-spatial network: 1×1 convs over the bands, then 3×3 convs",
                     modality="cube", pretrained=False)
class SpectralSpatial(SequentialBackbone):
    """Spectral-spatial FCDD backbone for cubes ``(N, bands, H, W)``.

    The band axis is the channel axis. First 1×1 convs mix the spectrum of each pixel on its own
    (bands -> ``spectral_channels``, each conv1-norm-LeakyReLU), then 3×3 convs look at the spatial
    neighbourhood (conv3-norm-LeakyReLU with a 2×2 max-pool after each but the last spatial conv, the last conv
    linear). With the defaults:

    conv1(64)-N-LReLU, conv1(64)-N-LReLU, conv3(128)-N-LReLU-pool2, conv3(128)-N-LReLU-pool2, conv3(128)

    ``(N, bands, 32, 32) -> (N, 128, 8, 8)``; receptive field 18, jump 4, shift 1.5 (1×1 convs add nothing).

    Args:
        in_channels: Number of spectral bands the model is built for.
        spectral_channels: Widths of the 1×1 spectral-mixing convs.
        spatial_channels: Widths of the 3×3 spatial convs; ``len - 1`` pools.
        norm: ``"batch"`` (default), ``"instance"``, ``"group"`` or None.
    """

    def __init__(
        self,
        in_channels: int,
        *,
        spectral_channels: tuple[int, ...] = (64, 64),
        spatial_channels: tuple[int, ...] = (128, 128, 128),
        norm: str | None = "batch",
    ) -> None:
        spectral = channel_tuple("spectral_channels", spectral_channels)
        spatial = channel_tuple("spatial_channels", spatial_channels)
        bias = norm_kind(norm) is None
        b = FeatureBuilder(2, positive_int("in_channels", in_channels))
        for width in spectral:
            b.conv(width, kernel=1, bias=bias).norm(norm).act("leaky_relu")
        for i, width in enumerate(spatial):
            if i == len(spatial) - 1:
                b.conv(width, kernel=3, padding=1)
            else:
                b.conv(width, kernel=3, padding=1, bias=bias).norm(norm).act("leaky_relu").pool(2)
        super().__init__(b, Modality.CUBE)
