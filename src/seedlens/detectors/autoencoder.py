"""Autoencoder baseline: a convolutional autoencoder trained on normals; reconstruction error is the heatmap."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import nn

from seedlens.config import Interval
from seedlens.detectors.base import DETECTORS
from seedlens.detectors.config import DeepDetectorConfig
from seedlens.detectors.deep import DeepDetector


@dataclass
class AutoencoderConfig(DeepDetectorConfig):
    """Autoencoder options on top of :class:`DeepDetectorConfig` (``backbone`` is not used).

    Attributes:
        base_channels: Channels of the first encoder stage (doubled at every stage).
        depth: Number of down-sampling stages; the input size must be divisible by ``2 ** depth``.
        sigma: Std (input pixels) of the Gaussian smoothing of error maps; None = ``max(1, 0.04 × size)``.
    """

    base_channels: int = 32
    depth: int = 3
    sigma: float | None = None

    CONSTRAINTS: ClassVar[dict[str, Any]] = {
        "base_channels": Interval(1, None, integer=True),
        "depth": Interval(1, 6, integer=True),
        "sigma": (Interval(0, None), None),
    }


@DETECTORS.register("autoencoder", summary="convolutional autoencoder, the reconstruction error as heatmap",
                    modalities=("image", "volume", "cube"), needs_training=True)
class Autoencoder(DeepDetector):
    """Convolutional autoencoder baseline for images, volumes and cubes. Higher score = more anomalous.

    Trained on normal samples only (no synthetic anomalies); the score pools the smoothed per-pixel
    reconstruction error.

    Args:
        **params: Options of :class:`AutoencoderConfig`, stored as given and validated by ``fit``.
    """

    name = "autoencoder"
    Config = AutoencoderConfig

    def _build_network(self, config: DeepDetectorConfig) -> nn.Module:
        from seedlens.models import ConvAutoencoder

        assert isinstance(config, AutoencoderConfig)
        self.sigma_ = config.sigma if config.sigma is not None else max(1.0, 0.04 * self.input_size_[0])
        return ConvAutoencoder(
            spatial_dims=self.modality_.spatial_dims,
            in_channels=self.in_channels_,
            base_channels=config.base_channels,
            depth=config.depth,
        )

    def _extra_state(self) -> dict[str, Any]:
        return {"sigma": self.sigma_}

    def _load_extra_state(self, state: dict[str, Any]) -> None:
        self.sigma_ = float(state["sigma"])

    def _loss(self, model: nn.Module, batch: dict[str, torch.Tensor], generator: torch.Generator) -> torch.Tensor:
        from seedlens.detectors.exposure import augment_batch

        x = batch["x"]
        if self.config_.augment:
            x, _ = augment_batch(x, batch["mask"], generator, self.config_)
        return ((model(x) - x) ** 2).mean()

    def _scoring_module(self) -> Any:
        from seedlens.inference import DenseScoring, ReconstructionError

        return DenseScoring(ReconstructionError(self.network_, self.sigma_), self.score_pooling_,
                            self.config_.topk_fraction)

    def _multiple(self, config: DeepDetectorConfig) -> int:
        assert isinstance(config, AutoencoderConfig)
        return 2**config.depth
