"""HSC baseline: hypersphere classifier with Outlier Exposure and gradient heatmaps.

A network maps a sample to a feature vector f; normals are pulled to the origin with the pseudo-Huber
sqrt(‖f‖² + 1) − 1, anomalies pushed away with −log(1 − exp(−d)). The score is the pseudo-Huber distance;
the heatmap is the Gaussian-smoothed absolute input gradient of the score (the FCDD paper's baseline).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import nn

from seedlens.config import Interval
from seedlens.detectors.base import DETECTORS
from seedlens.detectors.config import DeepDetectorConfig
from seedlens.detectors.deep import DeepDetector, TrainingData
from seedlens.detectors.exposure import ExposureConfig, expose, make_online_anomalies


@dataclass
class HSCConfig(ExposureConfig):
    """HSC options on top of :class:`ExposureConfig`.

    Attributes:
        feature_dim: Length of the feature vector.
        sigma: Std (input pixels) of the Gaussian smoothing of gradient heatmaps; None = ``max(1, 0.04 × size)``.
    """

    feature_dim: int = 64
    sigma: float | None = None

    CONSTRAINTS: ClassVar[dict[str, Any]] = {
        "feature_dim": Interval(1, None, integer=True),
        "sigma": (Interval(0, None), None),
    }


@DETECTORS.register("hsc")
class HSC(DeepDetector):
    """Hypersphere classifier (HSC) with Outlier Exposure; heatmaps from input gradients.

    Inputs as for :class:`~seedlens.detectors.FCDD`. Higher score = more anomalous.

    Args:
        **params: Options of :class:`HSCConfig`, stored as given and validated by ``fit``.
    """

    name = "hsc"
    Config = HSCConfig

    def _uses_labelled(self) -> bool:
        return bool(self.params.get("use_labelled_anomalies", False))

    def _build_network(self, config: DeepDetectorConfig) -> nn.Module:
        from seedlens.models import HSCNet, create_backbone

        assert isinstance(config, HSCConfig)
        backbone = create_backbone(self.backbone_name_, in_channels=self.in_channels_)
        self.sigma_ = config.sigma if config.sigma is not None else max(1.0, 0.04 * self.input_size_[0])
        return HSCNet(backbone, dim=config.feature_dim)

    def _before_training(self, samples: TrainingData) -> None:
        config = self.config_
        assert isinstance(config, ExposureConfig)
        self._online = make_online_anomalies(
            config, self.modality_, self.input_size_, self.in_channels_, has_labelled=any(samples.train_labels),
            preprocessor=self.preprocessor_,
        )

    def _load_extra_state(self, state: dict[str, Any]) -> None:
        self.sigma_ = float(state["sigma"])

    def _extra_state(self) -> dict[str, Any]:
        return {"sigma": self.sigma_}

    def _loss(self, model: nn.Module, batch: dict[str, torch.Tensor], generator: torch.Generator) -> torch.Tensor:
        from seedlens.anomaly import hsc_loss

        x, labels, _ = expose(self._online, batch, generator, self.config_)
        return hsc_loss(model(x), labels)

    def _scoring_module(self) -> Any:
        from seedlens.inference import DenseScoring

        return DenseScoring(_ScoreField(self.network_), self.score_pooling_, self.config_.topk_fraction)

    def _dense_windows(self, x: torch.Tensor, want_maps: bool) -> torch.Tensor:
        """Per window: the smoothed input-gradient heatmap (when wanted) and the window's score as a constant map."""
        from seedlens.anomaly import hsc_score
        from seedlens.explain.smoothing import gaussian_blur

        if not want_maps:
            with torch.no_grad():
                return _ScoreField(self.network_)(x)
        with torch.enable_grad():
            x = x.detach().clone().requires_grad_(True)
            scores = hsc_score(self.network_(x).float())
            (grad,) = torch.autograd.grad(scores.sum(), x)
        maps = gaussian_blur(grad.abs().sum(dim=1, keepdim=True), self.sigma_)
        field = scores.detach().reshape(-1, 1, *([1] * (x.ndim - 2))).expand_as(maps)
        return torch.cat([maps.detach(), field], dim=1)


class _ScoreField(nn.Module):
    """HSC's score of each input as a constant map ``(N, 1, *spatial)`` (what its exported module returns)."""

    def __init__(self, network: nn.Module) -> None:
        super().__init__()
        self.network = network

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        from seedlens.anomaly import hsc_score

        scores = hsc_score(self.network(x).float())
        return scores.reshape(-1, 1, *([1] * (x.ndim - 2))).expand(-1, 1, *x.shape[2:])

    def describe(self) -> dict[str, Any]:
        """The map in words: the score everywhere (the gradient heatmaps need autograd and stay in seedlens)."""
        return {
            "anomaly_map": "the sample's HSC score 1 - exp(-d), d = sqrt(|f|^2 + 1) - 1 of the feature vector f, at "
                           "every position",
            "heatmaps": "the score broadcast to every position, not a localisation: HSC's heatmaps are input "
                        "gradients, which need autograd and are not exported (use `seedlens explain`)",
        }
