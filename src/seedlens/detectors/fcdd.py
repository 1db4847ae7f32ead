"""FCDD: Fully Convolutional Data Description (Liznerski et al., ICLR 2021).

A fully convolutional network maps an input to a low-resolution map φ(X); the anomaly map is the
pseudo-Huber A = sqrt(φ² + 1) − 1 and the sample score pools A (mean by default). Training sees normal
samples and anomalies — synthetic confetti noise, Outlier Exposure images, or labelled anomalies — so the
centre can live in the last layer's bias without the constant solution. Heatmaps upsample A with a
Gaussian transposed convolution matched to the network's receptive field.
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
from seedlens.errors import ConfigError
from seedlens.models.fcdd_net import FCDDNet


@dataclass
class FCDDConfig(ExposureConfig):
    """FCDD options on top of :class:`ExposureConfig`.

    Attributes:
        supervision: ``sample`` trains on sample labels; ``map`` on ground-truth anomaly maps (the synthetic
            anomaly's mask, or the map given with a labelled anomaly).
        sigma: Standard deviation of the Gaussian upsampling kernel in input pixels/voxels; None uses
            ``max(1, 0.04 × input size)`` (≈1.2 at 28–32 px and ≈9 at 224 px, as in the paper). With
            ``supervision="map"`` the training loss compares the masks with maps upsampled by this kernel.
        heatmap_sigma: Standard deviation of the upsampling kernel of the heatmaps returned by ``explain``, if it
            should differ from the training kernel ``sigma``; None uses ``sigma``, but at least half the network's
            cell spacing (its stride): a narrower kernel leaves a dotted heatmap, one bump per cell. A
            map-supervised network learns sharp maps with a narrow kernel, while a somewhat wider one at inference
            averages the coarse cells of a 3D network's map into smoother, better-localised heatmaps. Scores do not
            depend on it.
        backbone_options: Keyword options of the backbone constructor (e.g. ``{"channels": [16, 32, 64]}`` for
            ``fcdd3d``); None uses the backbone's defaults.
    """

    supervision: str = "sample"
    sigma: float | None = None
    heatmap_sigma: float | None = None
    backbone_options: dict[str, Any] | None = None

    CONSTRAINTS: ClassVar[dict[str, Any]] = {
        "supervision": frozenset({"sample", "map"}),
        "sigma": (Interval(0, None, closed=False), None),
        "heatmap_sigma": (Interval(0, None, closed=False), None),
        "backbone_options": (dict, None),
    }


@DETECTORS.register("fcdd", summary="fully convolutional one-class network (FCDD), heatmaps from its output map",
                    modalities=("image", "volume", "cube"), needs_training=True)
class FCDD(DeepDetector):
    """Explainable deep one-class classifier (FCDD). Higher score = more anomalous.

    Serves images ``(N, C, H, W)``, volumes ``(N, C, D, H, W)`` and hyperspectral cubes ``(N, bands, H, W)``.

    Example:
        >>> from seedlens.data import open_source
        >>> detector = FCDD(epochs=20).fit(open_source("scans.csv", normal_class="ok"))
        >>> scores = detector.score(arrays)            # (N,)
        >>> heatmaps = detector.explain(arrays)        # (N, 1, *spatial) at input resolution

    Args:
        **params: Options of :class:`FCDDConfig`, stored as given and validated by ``fit``.
    """

    name = "fcdd"
    Config = FCDDConfig

    def _uses_labelled(self) -> bool:
        return bool(self.params.get("use_labelled_anomalies", False))

    def _build_network(self, config: DeepDetectorConfig) -> nn.Module:
        from seedlens.explain import ReceptiveFieldUpsampler
        from seedlens.models import FCDDNet, create_backbone

        assert isinstance(config, FCDDConfig)
        options = dict(config.backbone_options or {})
        backbone = create_backbone(self.backbone_name_, in_channels=self.in_channels_, **options)
        if backbone.spatial_dims != self.modality_.spatial_dims:
            raise ConfigError(
                f"backbone {self.backbone_name_!r} is {backbone.spatial_dims}D but {self.modality_.value} samples "
                f"are {self.modality_.spatial_dims}D"
            )
        network = FCDDNet(backbone)
        sigma = config.sigma if config.sigma is not None else max(1.0, 0.04 * self.input_size_[0])
        dims = self.modality_.spatial_dims
        self.upsampler_ = ReceptiveFieldUpsampler(network.receptive_field, spatial_dims=dims, sigma=float(sigma))
        # A Gaussian narrower than half the cell spacing leaves a dotted heatmap (one bump per cell, gaps between)
        heatmap_sigma = config.heatmap_sigma if config.heatmap_sigma is not None else max(
            float(sigma), 0.5 * network.receptive_field.jump)
        self.heatmap_upsampler_ = (
            self.upsampler_
            if heatmap_sigma == sigma
            else ReceptiveFieldUpsampler(network.receptive_field, spatial_dims=dims, sigma=float(heatmap_sigma))
        )
        return network

    def _before_preprocessing(self, samples: TrainingData) -> None:
        assert isinstance(self.config_, ExposureConfig)
        self._outliers = resolve_outliers(self.config_, samples)

    def _before_training(self, samples: TrainingData, cache: Any) -> None:
        config = self.config_
        assert isinstance(config, ExposureConfig)
        self._online = prepare_anomalies(config, self.modality_, self.input_size_, samples, cache, self._outliers)

    def _loss(self, model: nn.Module, batch: dict[str, torch.Tensor], generator: torch.Generator) -> torch.Tensor:
        from seedlens.anomaly import fcdd_loss, fcdd_map_loss, pseudo_huber

        config = self.config_
        assert isinstance(config, FCDDConfig)
        x, labels, masks = expose(self._online, batch, generator, config)
        phi = model(x)
        if config.supervision == "map":
            upsampled = self.upsampler_.to(phi.device)(pseudo_huber(phi), tuple(x.shape[2:]))
            return fcdd_map_loss(upsampled, masks)
        return fcdd_loss(phi, labels)

    def _scoring_module(self) -> Any:
        from seedlens.inference import ReceptiveFieldScoring

        network = self.network_
        assert isinstance(network, FCDDNet)
        return ReceptiveFieldScoring(network, network.receptive_field, self.heatmap_upsampler_, self.score_pooling_,
                                     self.config_.topk_fraction)

    def _smallest_window(self) -> int:
        from seedlens.inference.windows import CellLayout

        network = self.network_
        assert isinstance(network, FCDDNet)
        return CellLayout.of(network.receptive_field).min_window()
