"""Heads that turn a backbone's feature map into what a method needs: an FCDD score map or a feature vector."""

from __future__ import annotations

import torch
from torch import nn

from seedlens.models._options import positive_int
from seedlens.models.layers import conv_cls


class ScoreHead(nn.Module):
    """1×1 (1×1×1) convolution to one channel: FCDD's output layer.

    The bias is kept on purpose: FCDD's hypersphere centre is absorbed into it, and the constant solution is
    ruled out because training always sees anomalies (real, Outlier Exposure or synthetic).

    Args:
        in_channels: Channels of the feature map.
        spatial_dims: 2 or 3.
    """

    def __init__(self, in_channels: int, spatial_dims: int) -> None:
        super().__init__()
        self.conv = conv_cls(spatial_dims)(positive_int("in_channels", in_channels), 1, kernel_size=1, bias=True)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """Map features ``(N, C, *s)`` to raw scores φ ``(N, 1, *s)``."""
        return self.conv(features)


class ProjectionHead(nn.Module):
    """Global average pooling followed by a linear layer: ``(N, C, *s) -> (N, dim)``.

    Args:
        in_channels: Channels of the feature map.
        dim: Length of the output feature vector.
        bias: Whether the linear layer has a bias.
    """

    def __init__(self, in_channels: int, dim: int, bias: bool = True) -> None:
        super().__init__()
        self.linear = nn.Linear(positive_int("in_channels", in_channels), positive_int("dim", dim), bias=bias)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """Map features ``(N, C, *s)`` to vectors ``(N, dim)``."""
        return self.linear(features.flatten(2).mean(dim=2))
