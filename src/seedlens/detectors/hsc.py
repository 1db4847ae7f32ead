"""HSC and Outlier-Exposure classifiers: one feature vector per sample, trained against anomalies, gradient heatmaps.

With ``objective="hsc"`` (the hypersphere classifier) a network maps a sample to a feature vector f; normals are
pulled to the origin with the pseudo-Huber d = sqrt(‖f‖² + 1) − 1, anomalies pushed away with −log(1 − exp(−d));
the score is 1 − exp(−d). With ``bce`` or ``focal`` the network gives one logit, trained as a normal-vs-outlier
classifier with binary cross-entropy or focal loss (the objectives the EOE paper compares); the score is its
sigmoid. The heatmap is the Gaussian-smoothed absolute input gradient of the score (the FCDD paper's baseline).
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
from seedlens.detectors.exposure import ExposureConfig, expose, prepare_anomalies, resolve_outliers


@dataclass
class HSCConfig(ExposureConfig):
    """HSC options on top of :class:`ExposureConfig`.

    Attributes:
        objective: ``hsc`` (hypersphere classifier), ``bce`` (binary cross-entropy of one logit) or ``focal``
            (focal loss of one logit, ``focal_gamma``).
        feature_dim: Length of the feature vector (``hsc``; the classifiers have one logit).
        focal_gamma: Focusing exponent of the focal loss (0 is binary cross-entropy).
        sigma: Std (input pixels) of the Gaussian smoothing of gradient heatmaps; None = ``max(1, 0.04 × size)``.
        backbone_options: Keyword options of the backbone constructor (e.g. ``{"stages": 8}`` for
            ``efficientnet_lite0``); None uses the backbone's defaults.
    """

    objective: str = "hsc"
    feature_dim: int = 64
    focal_gamma: float = 2.0
    sigma: float | None = None
    backbone_options: dict[str, Any] | None = None

    CONSTRAINTS: ClassVar[dict[str, Any]] = {
        "objective": frozenset({"hsc", "bce", "focal"}),
        "feature_dim": Interval(1, None, integer=True),
        "focal_gamma": Interval(0, None),
        "sigma": (Interval(0, None), None),
        "backbone_options": (dict, None),
    }


@DETECTORS.register("hsc", summary="hypersphere or BCE/focal classifier with Outlier Exposure, gradient heatmaps",
                    modalities=("image", "volume", "cube"), needs_training=True)
class HSC(DeepDetector):
    """Hypersphere classifier (HSC), or a BCE / focal-loss classifier, trained with Outlier Exposure; gradient heatmaps.

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
        backbone = create_backbone(self.backbone_name_, in_channels=self.in_channels_,
                                   **dict(config.backbone_options or {}))
        self.sigma_ = config.sigma if config.sigma is not None else max(1.0, 0.04 * self.input_size_[0])
        return HSCNet(backbone, dim=config.feature_dim if config.objective == "hsc" else 1)

    def _before_preprocessing(self, samples: TrainingData) -> None:
        assert isinstance(self.config_, ExposureConfig)
        self._outliers = resolve_outliers(self.config_, samples)

    def _before_training(self, samples: TrainingData, cache: Any) -> None:
        config = self.config_
        assert isinstance(config, ExposureConfig)
        self._online = prepare_anomalies(config, self.modality_, self.input_size_, samples, cache, self._outliers)

    def _load_extra_state(self, state: dict[str, Any]) -> None:
        self.sigma_ = float(state["sigma"])

    def _extra_state(self) -> dict[str, Any]:
        return {"sigma": self.sigma_}

    def _loss(self, model: nn.Module, batch: dict[str, torch.Tensor], generator: torch.Generator) -> torch.Tensor:
        from seedlens.anomaly import bce_loss, focal_loss, hsc_loss

        config = self.config_
        assert isinstance(config, HSCConfig)
        x, labels, _ = expose(self._online, batch, generator, config)
        out = model(x)
        if config.objective == "bce":
            return bce_loss(out, labels)
        if config.objective == "focal":
            return focal_loss(out, labels, config.focal_gamma)
        return hsc_loss(out, labels)

    @property
    def _objective(self) -> str:
        return str(getattr(self.config_, "objective", "hsc"))

    def _scoring_module(self) -> Any:
        from seedlens.inference import DenseScoring

        return DenseScoring(_ScoreField(self.network_, self._objective), self.score_pooling_,
                            self.config_.topk_fraction)

    def _dense_windows(self, x: torch.Tensor, want_maps: bool) -> torch.Tensor:
        """Per window: the smoothed input-gradient heatmap (when wanted) and the window's score as a constant map."""
        from seedlens.explain.smoothing import gaussian_blur

        if not want_maps:
            with torch.no_grad():
                return _ScoreField(self.network_, self._objective)(x)
        with torch.enable_grad():
            x = x.detach().clone().requires_grad_(True)
            scores = sample_score(self.network_(x).float(), self._objective)
            (grad,) = torch.autograd.grad(scores.sum(), x)
        maps = gaussian_blur(grad.abs().sum(dim=1, keepdim=True), self.sigma_)
        field = scores.detach().reshape(-1, 1, *([1] * (x.ndim - 2))).expand_as(maps)
        return torch.cat([maps.detach(), field], dim=1)


def sample_score(out: torch.Tensor, objective: str) -> torch.Tensor:
    """The anomaly score ``(N,)`` of network outputs: HSC's ``1 - exp(-d)`` or a classifier's sigmoid of its logit."""
    from seedlens.anomaly import hsc_score

    return hsc_score(out) if objective == "hsc" else torch.sigmoid(out[:, 0])


class _ScoreField(nn.Module):
    """The sample score of each input as a constant map ``(N, 1, *spatial)`` (what its exported module returns)."""

    def __init__(self, network: nn.Module, objective: str = "hsc") -> None:
        super().__init__()
        self.network = network
        self.objective = objective

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scores = sample_score(self.network(x).float(), self.objective)
        return scores.reshape(-1, 1, *([1] * (x.ndim - 2))).expand(-1, 1, *x.shape[2:])

    def describe(self) -> dict[str, Any]:
        """The map in words: the score everywhere (the gradient heatmaps need autograd and stay in seedlens)."""
        score = ("the sample's HSC score 1 - exp(-d), d = sqrt(|f|^2 + 1) - 1 of the feature vector f"
                 if self.objective == "hsc" else f"the sample's anomaly probability sigmoid(logit) ({self.objective})")
        return {
            "anomaly_map": f"{score}, at every position",
            "heatmaps": "the score broadcast to every position, not a localisation: HSC's heatmaps are input "
                        "gradients, which need autograd and are not exported (use `seedlens explain`)",
        }
