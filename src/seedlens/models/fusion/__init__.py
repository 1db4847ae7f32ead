"""Multi-modal fusion network: encoders per modality, fusion layers, and the network that joins them.

Layouts: volumes ``(N, C, D, H, W)``, cubes ``(N, bands, H, W)``, images ``(N, C, H, W)``, tables ``(N, F)``;
a presence mask ``(N, M)`` says which of the ``M`` modalities each sample has.
"""

from seedlens.models.fusion.encoders import BackboneEncoder, ModalityEncoder, TableEncoder
from seedlens.models.fusion.layers import FUSIONS, AttentionFusion, ConcatFusion, create_fusion
from seedlens.models.fusion.network import FusionNet

__all__ = [
    "FUSIONS",
    "AttentionFusion",
    "BackboneEncoder",
    "ConcatFusion",
    "FusionNet",
    "ModalityEncoder",
    "TableEncoder",
    "create_fusion",
]
