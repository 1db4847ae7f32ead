"""Scoring modules: a trained network with its anomaly map, upsampler and score pooling, as one ``nn.Module``.

A scoring module is the pure model apart from the estimator that trains it (the anomalib split): it maps a
preprocessed batch to sample scores and heatmaps, and is what ``seedlens export`` writes to ONNX and what the
sliding window (:mod:`seedlens.inference.sliding_window`) calls. Its parts are exposed so that a large scan is
scored window by window: :meth:`anomaly_map` per window, then :meth:`heatmap` and :meth:`pool` once on the
stitched map.

* :class:`ReceptiveFieldScoring` (FCDD): the map is at the network's cell resolution (``cells = True``), its cells
  placed by the receptive field; the heatmap is its Gaussian receptive-field upsampling.
* :class:`DenseScoring` (autoencoder): the map is already at input resolution (``cells = False``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from torch import Tensor, nn

from seedlens.anomaly.pooling import POOLINGS, pool_maps
from seedlens.errors import ConfigError
from seedlens.inference.windows import CellLayout
from seedlens.models.receptive_field import ReceptiveField

__all__ = ["DenseScoring", "ReceptiveFieldScoring", "ReconstructionError", "ScoringModule"]


class ScoringModule(nn.Module):
    """A network, its anomaly map, its upsampling and its score pooling: ``x -> (scores, heatmaps)``.

    Args:
        pooling: ``mean``, ``topk`` or ``max`` (see :func:`~seedlens.anomaly.pooling.pool_maps`).
        topk_fraction: Share of the map ``topk`` averages.
    """

    #: Whether :meth:`anomaly_map` is at cell resolution (stitched by cells) rather than input resolution.
    cells: bool = False

    def __init__(self, pooling: str, topk_fraction: float) -> None:
        super().__init__()
        if pooling not in POOLINGS:
            raise ConfigError(f"pooling must be one of {', '.join(sorted(POOLINGS))}; got {pooling!r}")
        self.pooling = pooling
        self.topk_fraction = float(topk_fraction)

    def anomaly_map(self, x: Tensor) -> Tensor:
        """The raw anomaly map of a batch ``(N, C, *spatial)``: ``(N, 1, *map)``, higher = more anomalous."""
        raise NotImplementedError

    def heatmap(self, anomaly: Tensor, size: Sequence[int]) -> Tensor:
        """The heatmap ``(N, 1, *size)`` of an anomaly map of an input of spatial ``size``."""
        raise NotImplementedError

    def pool(self, anomaly: Tensor, valid: Tensor | None = None) -> Tensor:
        """Sample scores ``(N,)`` of an anomaly map (only ``valid`` cells count, when given)."""
        return pool_maps(anomaly, self.pooling, self.topk_fraction, valid=valid)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Scores ``(N,)`` and heatmaps ``(N, 1, *spatial)`` of a preprocessed batch ``(N, C, *spatial)``."""
        anomaly = self.anomaly_map(x)
        return self.pool(anomaly), self.heatmap(anomaly, tuple(x.shape[2:]))

    def describe(self) -> dict[str, Any]:
        """What :meth:`forward` computes, in words and numbers (the sidecar of an exported module).

        Returns:
            ``{"anomaly_map", "heatmaps", "score_pooling": {"method", "topk_fraction", "formula"}}`` plus what a
            kind adds (FCDD: ``"cells"``, ``"sigma"``).
        """
        formulas = {
            "mean": "the mean of every cell of the anomaly map",
            "topk": f"the mean of the k highest cells of the anomaly map, k = max(1, round({self.topk_fraction:g} × "
                    "cells)) (round half to even)",
            "max": "the highest cell of the anomaly map",
        }
        return {
            "anomaly_map": "the raw anomaly map, higher = more anomalous",
            "heatmaps": "the anomaly map at the input's size",
            "score_pooling": {"method": self.pooling, "topk_fraction": self.topk_fraction,
                              "formula": formulas[self.pooling]},
        }


class ReceptiveFieldScoring(ScoringModule):
    """FCDD: ``A = sqrt(φ(x)² + 1) - 1`` at cell resolution, upsampled by the receptive-field Gaussian.

    Args:
        network: ``(N, C, *spatial) -> (N, 1, *cells)`` raw scores φ (``FCDDNet``).
        receptive_field: The receptive field of one map cell (``FCDDNet.receptive_field``).
        upsampler: A :class:`~seedlens.explain.ReceptiveFieldUpsampler` of that receptive field.
        pooling: Score pooling of ``A``.
        topk_fraction: Share of the cells ``topk`` averages.
    """

    cells = True

    def __init__(self, network: nn.Module, receptive_field: ReceptiveField, upsampler: nn.Module, pooling: str,
                 topk_fraction: float) -> None:
        super().__init__(pooling, topk_fraction)
        self.network = network
        self.receptive_field = receptive_field
        self.upsampler = upsampler

    @property
    def layout(self) -> CellLayout:
        """Where the map's cells sit in the input."""
        return CellLayout.of(self.receptive_field)

    def anomaly_map(self, x: Tensor) -> Tensor:
        """``A`` at cell resolution ``(N, 1, *cells)`` (float32 also under autocast)."""
        from seedlens.anomaly import pseudo_huber

        return pseudo_huber(self.network(x).float())

    def heatmap(self, anomaly: Tensor, size: Sequence[int]) -> Tensor:
        """``A`` upsampled to the input's spatial ``size``."""
        upsampler = self.upsampler.to(anomaly.device)
        return upsampler(anomaly, tuple(size))

    def describe(self) -> dict[str, Any]:
        """As :meth:`ScoringModule.describe`, with the cell layout and the upsampling kernel."""
        layout = self.layout
        sigma = float(getattr(self.upsampler, "sigma", 0.0))
        return {
            **super().describe(),
            "anomaly_map": f"A = sqrt(phi^2 + 1) - 1 of the network's raw output phi: one cell every {layout.jump} "
                           "input positions per axis, cell o centred at input position o * jump + shift",
            "cells": {"jump": layout.jump, "shift": layout.shift, "extent": layout.extent},
            "heatmaps": f"A upsampled to the input's size by a transposed convolution (stride {layout.jump}) with a "
                        f"Gaussian of sigma = {sigma:g} px the size of the receptive field ({layout.extent:g} px): raw "
                        "anomaly values, not normalised",
            "sigma": sigma,
        }


class DenseScoring(ScoringModule):
    """A map already at input resolution (e.g. the autoencoder's smoothed reconstruction error).

    Args:
        dense_map: ``(N, C, *spatial) -> (N, 1, *spatial)``, e.g. :class:`ReconstructionError`.
        pooling: Score pooling of the map.
        topk_fraction: Share of the map ``topk`` averages.
    """

    def __init__(self, dense_map: nn.Module, pooling: str, topk_fraction: float) -> None:
        super().__init__(pooling, topk_fraction)
        self.dense_map = dense_map

    def anomaly_map(self, x: Tensor) -> Tensor:
        """The map ``(N, 1, *spatial)``."""
        return self.dense_map(x).float()

    def heatmap(self, anomaly: Tensor, size: Sequence[int]) -> Tensor:
        """The map itself (it is already at input resolution)."""
        return anomaly

    def describe(self) -> dict[str, Any]:
        """As :meth:`ScoringModule.describe`, with what the dense map says of itself (its ``describe()``)."""
        own = getattr(self.dense_map, "describe", None)
        return {
            **super().describe(),
            "heatmaps": "the anomaly map itself (already at the input's size): raw values, not normalised",
            **(own() if callable(own) else {}),
        }


class ReconstructionError(nn.Module):
    """The Gaussian-smoothed per-pixel reconstruction error of an autoencoder: ``(N, C, *s) -> (N, 1, *s)``.

    Args:
        autoencoder: The trained autoencoder.
        sigma: Standard deviation of the smoothing, in pixels/voxels (0: none).
    """

    def __init__(self, autoencoder: nn.Module, sigma: float) -> None:
        super().__init__()
        self.autoencoder = autoencoder
        self.sigma = float(sigma)

    def forward(self, x: Tensor) -> Tensor:
        """The smoothed error map."""
        from seedlens.anomaly import reconstruction_error
        from seedlens.explain.smoothing import gaussian_blur

        return gaussian_blur(reconstruction_error(self.autoencoder(x).float(), x.float()), self.sigma)

    def describe(self) -> dict[str, Any]:
        """The map in words, and its smoothing."""
        return {
            "anomaly_map": "the squared reconstruction error of the autoencoder averaged over channels, smoothed by a "
                           f"Gaussian of sigma = {self.sigma:g} px (border replicated)",
            "sigma": self.sigma,
        }
