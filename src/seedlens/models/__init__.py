"""Networks: dimension-agnostic layers with receptive-field bookkeeping, backbones, heads and full models.

Layouts: images ``(N, C, H, W)``, volumes ``(N, C, D, H, W)``, hyperspectral cubes ``(N, bands, H, W)``.
"""

from seedlens.models.autoencoder import ConvAutoencoder
from seedlens.models.backbones import (
    BACKBONES,
    FCDD3D,
    FCDD28,
    FCDD32,
    FCDD224,
    Backbone,
    EfficientNetLite0,
    SequentialBackbone,
    SpectralSpatial,
    create_backbone,
    list_backbones,
)
from seedlens.models.fcdd_net import FCDDNet
from seedlens.models.heads import ProjectionHead, ScoreHead
from seedlens.models.hsc_net import HSCNet
from seedlens.models.layers import FeatureBuilder, conv_cls, make_activation, norm_cls, pool_cls
from seedlens.models.receptive_field import ReceptiveField
from seedlens.models.rf_trace import trace_receptive_field

__all__ = [
    "BACKBONES",
    "FCDD3D",
    "FCDD28",
    "FCDD32",
    "FCDD224",
    "Backbone",
    "ConvAutoencoder",
    "EfficientNetLite0",
    "FCDDNet",
    "FeatureBuilder",
    "HSCNet",
    "ProjectionHead",
    "ReceptiveField",
    "ScoreHead",
    "SequentialBackbone",
    "SpectralSpatial",
    "conv_cls",
    "create_backbone",
    "list_backbones",
    "make_activation",
    "norm_cls",
    "pool_cls",
    "trace_receptive_field",
]
