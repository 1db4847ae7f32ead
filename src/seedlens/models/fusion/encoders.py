"""Modality encoders: one interface that turns a batch of one modality into an embedding ``(N, dim)``."""

from __future__ import annotations

import torch
from torch import nn

from seedlens.models._options import positive_int
from seedlens.models.backbones.base import Backbone
from seedlens.types import Modality


class ModalityEncoder(nn.Module):
    """Base of every encoder: ``forward(x) -> (N, dim)``.

    Attributes:
        modality: The kind of input (image, volume, cube or table).
        dim: Length of the embedding.
    """

    modality: Modality
    dim: int


class BackboneEncoder(ModalityEncoder):
    """A :class:`~seedlens.models.backbones.Backbone` + global average and max pooling + a linear projection.

    Average pooling sees diffuse properties (colour, maturity), max pooling small local ones (a void, a mould
    spot); the projection mixes both. The backbone is kept as ``self.backbone`` so a trained FCDD backbone of the
    same kind can be loaded into it (:meth:`load_backbone`).

    Args:
        backbone: Any backbone; its modality becomes the encoder's.
        dim: Embedding length.
    """

    def __init__(self, backbone: Backbone, dim: int) -> None:
        super().__init__()
        if not isinstance(backbone, Backbone):
            raise TypeError(f"BackboneEncoder needs a seedlens Backbone; got {type(backbone).__name__}")
        self.backbone = backbone
        self.modality = backbone.modality
        self.dim = positive_int("dim", dim)
        self.project = nn.Sequential(nn.Linear(2 * backbone.out_channels, self.dim), nn.LayerNorm(self.dim), nn.GELU())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Embed a batch ``(N, C, H, W)``, ``(N, C, D, H, W)`` or ``(N, bands, H, W)`` into ``(N, dim)``."""
        features = self.backbone(x).flatten(2)
        pooled = torch.cat([features.mean(dim=2), features.amax(dim=2)], dim=1)
        return self.project(pooled)


class TableEncoder(ModalityEncoder):
    """A small MLP for tabular features ``(N, F)`` (already standardised / one-hot encoded) -> ``(N, dim)``.

    Args:
        in_features: Number of input features ``F``.
        dim: Embedding length.
        hidden: Width of the hidden layer.
    """

    def __init__(self, in_features: int, dim: int, hidden: int = 32) -> None:
        super().__init__()
        self.modality = Modality.TABLE
        self.in_features = positive_int("in_features", in_features)
        self.dim = positive_int("dim", dim)
        self.mlp = nn.Sequential(
            nn.Linear(self.in_features, positive_int("hidden", hidden)),
            nn.GELU(),
            nn.Linear(hidden, self.dim),
            nn.LayerNorm(self.dim),
            nn.GELU(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Embed features ``(N, F)`` into ``(N, dim)``."""
        if x.ndim != 2 or x.shape[1] != self.in_features:
            from seedlens.errors import ShapeError

            raise ShapeError(f"table batch must be (N, {self.in_features}); got shape {tuple(x.shape)}")
        return self.mlp(x)
