"""A backbone made of one ``nn.Sequential`` built with :class:`~seedlens.models.layers.FeatureBuilder`."""

from __future__ import annotations

import torch

from seedlens.models.backbones.base import Backbone
from seedlens.models.layers import FeatureBuilder
from seedlens.types import Modality


def add_conv_blocks(builder: FeatureBuilder, widths: tuple[int, ...], norm: str | None, bias: bool) -> FeatureBuilder:
    """Append the plain FCDD-style stack of ``fcdd3d`` and ``conv2d`` to ``builder``.

    conv3-norm-LeakyReLU blocks of ``widths`` with a 2x max-pool after each but the last, then a linear conv3 of
    ``widths[-1]`` channels.
    """
    for i, width in enumerate(widths):
        builder.conv(width, kernel=3, padding=1, bias=bias).norm(norm).act("leaky_relu")
        if i < len(widths) - 1:
            builder.pool(2)
    builder.conv(widths[-1], kernel=3, padding=1)
    return builder


class SequentialBackbone(Backbone):
    """Backbone whose layers, channels and receptive field come from a :class:`FeatureBuilder`.

    Args:
        builder: The builder holding the layers (its ``in_channels``, ``out_channels`` and ``receptive_field``
            become the backbone's).
        modality: Kind of input the layers expect.
    """

    def __init__(self, builder: FeatureBuilder, modality: Modality | str) -> None:
        super().__init__(
            modality=modality,
            in_channels=builder.in_channels,
            out_channels=builder.out_channels,
            receptive_field=builder.receptive_field,
        )
        if builder.spatial_dims != self.spatial_dims:
            raise ValueError(
                f"builder has {builder.spatial_dims} spatial dims but {modality} needs {self.spatial_dims}"
            )
        self.features = builder.build()

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Run the layers on a checked batch ``(N, in_channels, *spatial)`` -> ``(N, out_channels, *spatial')``."""
        return self.features(x)
