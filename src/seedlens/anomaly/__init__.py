"""Anomaly objectives, generators and pooling: FCDD/HSC losses, confetti and Gaussian noise, online supervision,
Outlier Exposure, and the one score pooling of anomaly maps.

Everything here is a pure function or a small transform on tensors; detectors compose them.
"""

from seedlens.anomaly.confetti import ConfettiNoise, SpectralConfetti
from seedlens.anomaly.generator import AnomalyGenerator
from seedlens.anomaly.losses import (
    bce_loss,
    fcdd_loss,
    fcdd_map_loss,
    focal_loss,
    hsc_loss,
    hsc_score,
    pseudo_huber,
    reconstruction_error,
)
from seedlens.anomaly.noise import GaussianNoiseImages
from seedlens.anomaly.online import OnlineReplacement
from seedlens.anomaly.outlier_augment import OutlierAugment
from seedlens.anomaly.outlier_exposure import OutlierExposure
from seedlens.anomaly.outlier_sets import OutlierSet
from seedlens.anomaly.outliers import ArrayOutliers, FolderOutliers
from seedlens.anomaly.pooling import POOLINGS, pool_maps

__all__ = [
    "POOLINGS",
    "AnomalyGenerator",
    "ArrayOutliers",
    "ConfettiNoise",
    "FolderOutliers",
    "GaussianNoiseImages",
    "OnlineReplacement",
    "OutlierAugment",
    "OutlierExposure",
    "OutlierSet",
    "SpectralConfetti",
    "bce_loss",
    "fcdd_loss",
    "fcdd_map_loss",
    "focal_loss",
    "hsc_loss",
    "hsc_score",
    "pool_maps",
    "pseudo_huber",
    "reconstruction_error",
]
