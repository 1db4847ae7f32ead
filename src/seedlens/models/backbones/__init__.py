"""Backbones: fully convolutional feature extractors with a known receptive field, built by name.

Importing this package imports every backbone module, which registers its backbones in
:data:`~seedlens.models.backbones.registry.BACKBONES`.
"""

from seedlens.models.backbones import compact, efficientnet, paper, spectral, volume  # noqa: F401  (registers backbones)
from seedlens.models.backbones.base import Backbone
from seedlens.models.backbones.compact import Conv2D
from seedlens.models.backbones.efficientnet import EfficientNetLite0, EfficientNetLite2
from seedlens.models.backbones.paper import FCDD28, FCDD32, FCDD224
from seedlens.models.backbones.registry import BACKBONES, create_backbone, list_backbones
from seedlens.models.backbones.sequential import SequentialBackbone
from seedlens.models.backbones.spectral import SpectralSpatial
from seedlens.models.backbones.volume import FCDD3D

__all__ = [
    "BACKBONES",
    "FCDD3D",
    "FCDD28",
    "FCDD32",
    "FCDD224",
    "Backbone",
    "Conv2D",
    "EfficientNetLite0",
    "EfficientNetLite2",
    "SequentialBackbone",
    "SpectralSpatial",
    "create_backbone",
    "list_backbones",
]
