"""The three 2D networks of the FCDD paper (Liznerski et al., ICLR 2021), built from the published topologies.

With the 1×1 FCDD head they give (receptive field by the arithmetic of
:mod:`seedlens.models.receptive_field`, which matches the paper's numbers):

=========  ===========  ==========  ====  ====  =====
name       input        score map   RF    jump  shift
=========  ===========  ==========  ====  ====  =====
fcdd28     28×28        7×7         16    4     1.5
fcdd32     32×32        8×8         22    4     1.5
fcdd224    224×224      28×28       62    8     3.5
=========  ===========  ==========  ====  ====  =====

All three are fully convolutional and accept other input sizes (the map is the input size divided by the jump,
rounded down).
"""

from __future__ import annotations

from seedlens.errors import ConfigError
from seedlens.models._options import channel_tuple, norm_kind, positive_int
from seedlens.models.backbones.registry import BACKBONES
from seedlens.models.backbones.sequential import SequentialBackbone
from seedlens.models.layers import FeatureBuilder
from seedlens.types import Modality


@BACKBONES.register("fcdd28", summary="FCDD's network for 28×28 images (Fashion-MNIST)", modality="image",
                     pretrained=False)
class FCDD28(SequentialBackbone):
    """FCDD's net for 28×28 images (Fashion-MNIST): conv5(128)-BN-LReLU-pool2, conv5(128)-pool2.

    ``(N, C, 28, 28) -> (N, 128, 7, 7)``; receptive field 16, jump 4.

    Args:
        in_channels: Image channels (1 for grey).
        norm: Norm after the first conv: ``"batch"`` (paper), ``"instance"``, ``"group"`` or None.
    """

    def __init__(self, in_channels: int = 1, *, norm: str | None = "batch") -> None:
        b = FeatureBuilder(2, positive_int("in_channels", in_channels))
        b.conv(128, kernel=5, padding=2, bias=norm_kind(norm) is None).norm(norm).act("leaky_relu").pool(2)
        b.conv(128, kernel=5, padding=2).pool(2)
        super().__init__(b, Modality.IMAGE)


@BACKBONES.register("fcdd32", summary="FCDD's network for 32×32 images (CIFAR-10)", modality="image",
                     pretrained=False)
class FCDD32(SequentialBackbone):
    """FCDD's net for 32×32 images (CIFAR-10).

    conv3(128)-pool2-BN-LReLU, conv3(256)-BN-LReLU, conv3(256)-pool2-BN-LReLU, conv3(128):
    ``(N, C, 32, 32) -> (N, 128, 8, 8)``; receptive field 22, jump 4.

    Args:
        in_channels: Image channels (3 for RGB).
        norm: Norm of the first three blocks: ``"batch"`` (paper), ``"instance"``, ``"group"`` or None.
    """

    def __init__(self, in_channels: int = 3, *, norm: str | None = "batch") -> None:
        bias = norm_kind(norm) is None
        b = FeatureBuilder(2, positive_int("in_channels", in_channels))
        b.conv(128, kernel=3, padding=1, bias=bias).pool(2).norm(norm).act("leaky_relu")
        b.conv(256, kernel=3, padding=1, bias=bias).norm(norm).act("leaky_relu")
        b.conv(256, kernel=3, padding=1, bias=bias).pool(2).norm(norm).act("leaky_relu")
        b.conv(128, kernel=3, padding=1)
        super().__init__(b, Modality.IMAGE)


#: VGG11's first six convolutions; a max-pool follows the 1st, 2nd and 4th.
_VGG11_CHANNELS = (64, 128, 256, 256, 512, 512)
_VGG11_POOL_AFTER = (0, 1, 3)


@BACKBONES.register("fcdd224", summary="VGG11-BN features, FCDD's network for 224×224 images", modality="image",
                     pretrained=False)
class FCDD224(SequentialBackbone):
    """VGG11-BN features up to the 6th conv (3 max-pools), FCDD's net for 224×224 images, trained from scratch.

    Each conv is conv3-BN-ReLU; ``(N, C, 224, 224) -> (N, 512, 28, 28)``; receptive field 62, jump 8.
    The paper starts from ImageNet VGG weights, which are not available offline here: this topology is
    randomly initialised (use ``efficientnet_lite0`` where pretrained features matter).

    Args:
        in_channels: Image channels.
        channels: Output channels of the six convs (VGG11: 64, 128, 256, 256, 512, 512); narrower nets train
            faster on a CPU and keep the same receptive field.
        norm: Norm after each conv: ``"batch"`` (VGG11-BN), ``"instance"``, ``"group"`` or None.
    """

    def __init__(
        self, in_channels: int = 3, *, channels: tuple[int, ...] = _VGG11_CHANNELS, norm: str | None = "batch"
    ) -> None:
        widths = channel_tuple("channels", channels, min_len=6)
        if len(widths) != 6:
            raise ConfigError(f"channels must list 6 widths (one per VGG11 conv); got {len(widths)}")
        bias = norm_kind(norm) is None
        b = FeatureBuilder(2, positive_int("in_channels", in_channels))
        for i, width in enumerate(widths):
            b.conv(width, kernel=3, padding=1, bias=bias).norm(norm).act("relu")
            if i in _VGG11_POOL_AFTER:
                b.pool(2)
        super().__init__(b, Modality.IMAGE)
