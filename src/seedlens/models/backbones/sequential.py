"""A backbone made of one ``nn.Sequential`` built with :class:`~seedlens.models.layers.FeatureBuilder`."""

from __future__ import annotations

import torch

from seedlens.models.backbones.base import Backbone
from seedlens.models.layers import FeatureBuilder
from seedlens.types import Modality


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
