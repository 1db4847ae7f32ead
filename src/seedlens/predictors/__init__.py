"""Multi-modal property predictors (fusion): fit / predict / explain / evaluate / save / load.

A :class:`FusionPredictor` reads :class:`FusionData` (a CSV manifest via :func:`read_manifest`, or a hub, served
hub or bundle via :func:`from_hub`) and predicts class targets (germination) and numeric traits from any subset of
its modalities.
"""

from seedlens.predictors.config import DEFAULT_ENCODERS, FusionConfig
from seedlens.predictors.data import FusionData, FusionSample, from_hub, read_manifest, to_hub
from seedlens.predictors.predictor import FusionPredictor

__all__ = [
    "DEFAULT_ENCODERS",
    "FusionConfig",
    "FusionData",
    "FusionPredictor",
    "FusionSample",
    "from_hub",
    "read_manifest",
    "to_hub",
]
