"""FCDD's network: a fully convolutional backbone plus a 1×1 head giving one raw score per map cell."""

from __future__ import annotations

import torch
from torch import nn

from seedlens.models.backbones.base import Backbone
from seedlens.models.heads import ScoreHead
from seedlens.models.receptive_field import ReceptiveField
from seedlens.types import Modality


class FCDDNet(nn.Module):
    """Backbone + :class:`~seedlens.models.heads.ScoreHead`: ``(N, C, *spatial) -> (N, 1, *spatial')`` raw φ.

    The anomaly map is ``A = sqrt(φ² + 1) - 1`` (computed by the loss in ``seedlens.anomaly``); this module
    returns φ itself. Cell ``o`` of the map is centred at input position ``o * jump + shift`` of
    :attr:`receptive_field`, which :class:`~seedlens.explain.ReceptiveFieldUpsampler` uses to bring the map
    back to input resolution.

    Args:
        backbone: Any :class:`~seedlens.models.backbones.Backbone`.

    Example:
        >>> net = FCDDNet(create_backbone("fcdd28", in_channels=1))
        >>> net(torch.zeros(4, 1, 28, 28)).shape
        torch.Size([4, 1, 7, 7])
    """

    def __init__(self, backbone: Backbone) -> None:
        super().__init__()
        if not isinstance(backbone, Backbone):
            raise TypeError(f"FCDDNet needs a seedlens Backbone; got {type(backbone).__name__}")
        self.backbone = backbone
        self.head = ScoreHead(backbone.out_channels, backbone.spatial_dims)

    @property
    def receptive_field(self) -> ReceptiveField:
        """Receptive field of one score-map cell (the 1×1 head adds nothing to the backbone's)."""
        return self.backbone.receptive_field

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
        """Return raw scores φ ``(N, 1, *spatial')`` of a batch in the backbone's layout.

        Raises:
            ShapeError: ``x`` has the wrong layout or channel count.
        """
        return self.head(self.backbone(x))
