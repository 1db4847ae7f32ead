"""Anomaly detectors: one protocol (fit / score / explain / predict / save / load), higher score = more anomalous."""

from __future__ import annotations

from pathlib import Path

from seedlens.detectors.autoencoder import Autoencoder, AutoencoderConfig
from seedlens.detectors.base import DETECTORS, Detector
from seedlens.detectors.config import DeepDetectorConfig
from seedlens.detectors.fcdd import FCDD, FCDDConfig
from seedlens.detectors.hsc import HSC, HSCConfig
from seedlens.detectors.rx import RX, RXConfig


def list_detectors(pattern: str = "*") -> list[str]:
    """Return the registered detector names matching the glob ``pattern``."""
    return DETECTORS.list(pattern)


def create_detector(name: str, **params: object) -> Detector:
    """Build the detector registered as ``name`` with options ``params`` (validated by ``fit``)."""
    return DETECTORS.create(name, **params)


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
    "RX",
    "Autoencoder",
    "AutoencoderConfig",
    "DeepDetectorConfig",
    "Detector",
    "FCDDConfig",
    "HSCConfig",
    "RXConfig",
    "create_detector",
    "list_detectors",
    "load_detector",
]
