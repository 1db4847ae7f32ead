"""HSC baseline network: a backbone pooled into one feature vector per sample."""

from __future__ import annotations

import torch
from torch import nn

from seedlens.models.backbones.base import Backbone
from seedlens.models.heads import ProjectionHead
from seedlens.types import Modality


class HSCNet(nn.Module):
    """Backbone -> global average pool -> linear: ``(N, C, *spatial) -> (N, dim)``.

    The hypersphere classifier (HSC) scores a sample by the norm of this vector; its heatmaps come from input
    gradients ("HSC with gradient heatmaps"), the baseline FCDD is compared against.

    Args:
        backbone: Any :class:`~seedlens.models.backbones.Backbone`.
        dim: Length of the feature vector.
    """

    def __init__(self, backbone: Backbone, dim: int = 128) -> None:
        super().__init__()
        if not isinstance(backbone, Backbone):
            raise TypeError(f"HSCNet needs a seedlens Backbone; got {type(backbone).__name__}")
        self.backbone = backbone
        self.head = ProjectionHead(backbone.out_channels, dim)
        self.dim = self.head.linear.out_features

    @property
    def spatial_dims(self) -> int:
        """Number of spatial axes (2 for images and cubes, 3 for volumes)."""
        return self.backbone.spatial_dims

    @property
    def modality(self) -> Modality:
        """Kind of input the backbone takes."""
        return self.backbone.modality

    @property
    def in_channels(self) -> int:
        """Input channels (bands for cubes)."""
        return self.backbone.in_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return feature vectors ``(N, dim)`` of a batch in the backbone's layout.

        Raises:
            ShapeError: ``x`` has the wrong layout or channel count.
        """
        return self.head(self.backbone(x))
