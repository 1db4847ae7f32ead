"""``conv2d``: a compact 2D fully convolutional net for small images (RGB seed photos, slices)."""

from __future__ import annotations

from seedlens.models._options import channel_tuple, norm_kind, positive_int
from seedlens.models.backbones.registry import BACKBONES
from seedlens.models.backbones.sequential import SequentialBackbone, add_conv_blocks
from seedlens.models.layers import FeatureBuilder
from seedlens.types import Modality


@BACKBONES.register("conv2d", summary="compact 2D network, the 2D sibling of fcdd3d", modality="image",
                     pretrained=False)
class Conv2D(SequentialBackbone):
    """Compact 2D backbone for images ``(N, C, H, W)``: the 2D sibling of ``fcdd3d``.

    One conv3-norm-LeakyReLU block per entry of ``channels`` with a 2×2 max-pool after each block but the last,
    then a final linear conv3 with ``channels[-1]`` outputs. With the default ``(32, 64, 128)``:

    conv(32)-N-LReLU-pool2, conv(64)-N-LReLU-pool2, conv(128)-N-LReLU, conv(128)

    ``(N, 3, 32, 32) -> (N, 128, 8, 8)``; receptive field 26, jump 4, shift 1.5. About 30× cheaper than
    ``fcdd32`` at the same input size, which matters for the encoders of a fusion model trained on a CPU.

    Args:
        in_channels: Image channels (3 for RGB).
        channels: Widths of the conv blocks; ``len(channels) - 1`` pools (jump ``2 ** (len - 1)``).
        norm: ``"batch"`` (default), ``"instance"``, ``"group"`` or None.
    """

    def __init__(
        self, in_channels: int = 3, *, channels: tuple[int, ...] = (32, 64, 128), norm: str | None = "batch"
    ) -> None:
        widths = channel_tuple("channels", channels)
        bias = norm_kind(norm) is None
        b = add_conv_blocks(FeatureBuilder(2, positive_int("in_channels", in_channels)), widths, norm, bias)
        super().__init__(b, Modality.IMAGE)
