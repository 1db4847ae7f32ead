"""The one interface every backbone answers: a feature map plus the receptive field that produced it."""

from __future__ import annotations

import torch
from torch import nn

from seedlens.errors import ShapeError
from seedlens.models.receptive_field import ReceptiveField
from seedlens.types import Modality

_LAYOUT = {
    Modality.IMAGE: "(N, C, H, W)",
    Modality.VOLUME: "(N, C, D, H, W)",
    Modality.CUBE: "(N, bands, H, W)",
}
_CHANNEL_WORD = {Modality.IMAGE: "channels", Modality.VOLUME: "channels", Modality.CUBE: "bands"}


class Backbone(nn.Module):
    """A fully convolutional feature extractor.

    ``forward`` takes a batch in the modality's layout — images ``(N, C, H, W)``, volumes ``(N, C, D, H, W)``,
    hyperspectral cubes ``(N, bands, H, W)`` — checks it, and returns a feature map
    ``(N, out_channels, *spatial')``. Output cell ``o`` along an axis looks at ``receptive_field.extent`` input
    pixels centred at ``o * receptive_field.jump + receptive_field.shift``. Heads (FCDD, fusion) use only this
    interface, so backbones are interchangeable.

    Subclasses call ``super().__init__(...)`` with what they built and implement :meth:`forward_features`.

    Attributes:
        modality: Kind of input (image, volume or cube).
        spatial_dims: Number of spatial axes (2 or 3), from the modality.
        in_channels: Input channels (bands for cubes).
        out_channels: Channels of the feature map.
        receptive_field: Extent, jump and centre shift of one feature-map cell in input pixels/voxels.
    """

    def __init__(
        self, *, modality: Modality | str, in_channels: int, out_channels: int, receptive_field: ReceptiveField
    ) -> None:
        super().__init__()
        self.modality = Modality.parse(modality)
        self.spatial_dims = self.modality.spatial_dims
        self.in_channels = int(in_channels)
        self.out_channels = int(out_channels)
        self.receptive_field = receptive_field

    def check_input(self, x: torch.Tensor) -> None:
        """Raise :class:`~seedlens.errors.ShapeError` unless ``x`` is a batch this backbone accepts.

        Raises:
            ShapeError: wrong number of axes (the message gives the received shape and the expected layout) or
                wrong channel/band count (the message names both counts).
        """
        layout = _LAYOUT[self.modality]
        if not isinstance(x, torch.Tensor):
            raise ShapeError(f"{self.modality.value} batch must be a torch.Tensor {layout}; got {type(x).__name__}")
        if x.ndim != self.spatial_dims + 2:
            raise ShapeError(
                f"{self.modality.value} batch must be {layout} with {self._channel_text()}; got shape {tuple(x.shape)}"
            )
        if x.shape[1] != self.in_channels:
            word = _CHANNEL_WORD[self.modality]
            raise ShapeError(
                f"{self.modality.value} has {x.shape[1]} {word} but the model was built for {self.in_channels} "
                f"(input shape {tuple(x.shape)}, expected {layout})"
            )

    def _channel_text(self) -> str:
        word = "bands" if self.modality is Modality.CUBE else "C"
        return f"{word}={self.in_channels}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Check ``x`` and return its feature map.

        Args:
            x: ``(N, C, H, W)``, ``(N, C, D, H, W)`` or ``(N, bands, H, W)`` with ``C``/``bands == in_channels``.

        Returns:
            Feature map ``(N, out_channels, *spatial')``.

        Raises:
            ShapeError: ``x`` has the wrong layout or channel count.
        """
        self.check_input(x)
        return self.forward_features(x)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Compute the feature map of an already checked batch (implemented by subclasses)."""
        raise NotImplementedError

    def freeze_stages(self, count: int) -> None:
        """Keep the first ``count`` stages fixed while the rest trains (fine-tuning a pretrained backbone).

        Backbones without stages accept only 0.

        Raises:
            ConfigError: ``count`` > 0 for a backbone that has no stages.
        """
        if count:
            from seedlens.errors import ConfigError

            raise ConfigError(f"freeze_stages={count}: the {type(self).__name__} backbone has no stages to freeze "
                              "(only pretrained backbones such as efficientnet_lite0 do)")

    def extra_repr(self) -> str:
        """Modality, channels and receptive field, shown in ``repr``."""
        rf = self.receptive_field
        return (
            f"modality={self.modality.value}, in_channels={self.in_channels}, out_channels={self.out_channels}, "
            f"receptive_field=(extent={rf.extent:g}, jump={rf.jump:g}, shift={rf.shift:g})"
        )
