"""``fcdd3d``: a small 3D fully convolutional net for CT volumes."""

from __future__ import annotations

from seedlens.models._options import channel_tuple, norm_kind, positive_int
from seedlens.models.backbones.registry import BACKBONES
from seedlens.models.backbones.sequential import SequentialBackbone, add_conv_blocks
from seedlens.models.layers import FeatureBuilder
from seedlens.types import Modality


@BACKBONES.register("fcdd3d", summary="3D FCDD network for CT volumes", modality="volume", pretrained=False)
class FCDD3D(SequentialBackbone):
    """3D FCDD backbone for volumes ``(N, C, D, H, W)``, e.g. CT crops of 32³–128³ voxels.

    One conv3³-norm-LeakyReLU block per entry of ``channels`` with a 2³ max-pool after each block but the
    last, then a final conv3³ with ``channels[-1]`` outputs. With the default ``(32, 64, 128)``:

    conv(32)-N-LReLU-pool2, conv(64)-N-LReLU-pool2, conv(128)-N-LReLU, conv(128)

    ``(N, 1, 64, 64, 64) -> (N, 128, 16, 16, 16)``; receptive field 26 voxels, jump 4, shift 1.5 — small enough
    to localise a void or lesion of a few voxels, large enough to see its surroundings. The widths stay
    modest: a forward pass of two 64³ volumes takes about 0.3 s on two CPU cores.

    Args:
        in_channels: Volume channels (1 for CT).
        channels: Widths of the conv blocks; ``len(channels) - 1`` pools (jump ``2 ** (len - 1)``).
        norm: ``"batch"`` (default), ``"instance"`` or ``"group"`` (better for batches of one or two volumes),
            or None.
    """

    def __init__(
        self, in_channels: int = 1, *, channels: tuple[int, ...] = (32, 64, 128), norm: str | None = "batch"
    ) -> None:
        widths = channel_tuple("channels", channels)
        bias = norm_kind(norm) is None
        b = add_conv_blocks(FeatureBuilder(3, positive_int("in_channels", in_channels)), widths, norm, bias)
        super().__init__(b, Modality.VOLUME)
