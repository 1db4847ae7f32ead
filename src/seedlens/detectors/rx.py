"""RX (Reed–Xiaoli): the classical Mahalanobis-distance anomaly detector, global or local, any modality.

Each pixel (voxel) is a vector of its channels — the spectrum of a hyperspectral cube, the intensity of a CT
voxel. Its anomaly score is the squared Mahalanobis distance ``(x - μ)ᵀ Σ⁻¹ (x - μ)`` to a background model:

* **global** RX: one mean and covariance for the whole background (the training pixels, or with
  ``fit_on="sample"`` every pixel of the scored sample itself — the classical transductive use on one scene);
* **local** RX: a mean and covariance per pixel from a dual window around it — the ``outer_window`` minus the
  ``inner_window`` guard, which keeps the target itself out of its background — always from the scored sample.

Spectra are first projected on the leading principal components of the background (``components``; all
channels for global RX, at most 10 for local RX, whose few window pixels could not support more), and the
covariance is regularised by ``regularization`` × its mean eigenvalue. Maps come back at the input resolution,
scores pool them (``topk`` by default).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from scipy import ndimage

from seedlens.config import Interval, atomic_write_bytes, from_dict, validate_config
from seedlens.detectors._inputs import as_array_list, normal_train_val, stack_or_list
from seedlens.detectors.base import DETECTORS, STATE_FILE, ArrayBatch, Detector, check_normalize
from seedlens.errors import ConfigError, ShapeError
from seedlens.types import Modality

LOCAL_COMPONENTS = 10
_CHUNK = 65_536  # pixels per batched solve in local RX


@dataclass
class RXConfig:
    """Options of :class:`RX`.

    Attributes:
        mode: ``global`` or ``local`` (dual-window) RX.
        fit_on: Where global RX takes its background: ``train`` (the normal training samples) or ``sample``
            (each scored sample's own pixels, transductive). Local RX always uses the sample.
        inner_window: Side of the guard window excluded from the local background (odd).
        outer_window: Side of the local background window (odd, larger than ``inner_window``).
        components: Principal components kept; None: all channels (global) or at most 10 (local).
        regularization: Ridge added to the covariance, as a fraction of its mean eigenvalue.
        modality: ``image``, ``volume`` or ``cube``; None infers it (4 axes = volume, else image).
        score_pooling: ``max``, ``mean`` or ``topk`` (mean of the highest ``topk_fraction`` of the map).
        topk_fraction: Fraction of the map averaged by ``topk``.
        threshold_quantile: Quantile of normal validation scores used as the threshold.
        threshold: A fixed threshold instead.
        val_fraction: Fraction of normal training samples held out for the threshold without a val split.
        heatmap_quantile: Quantile at which heatmaps are clipped for display normalisation.
        seed: Seed of the hold-out draw.
    """

    mode: str = "global"
    fit_on: str = "train"
    inner_window: int = 3
    outer_window: int = 11
    components: int | None = None
    regularization: float = 1e-3
    modality: str | None = None
    score_pooling: str = "topk"
    topk_fraction: float = 0.01
    threshold_quantile: float = 0.95
    threshold: float | None = None
    val_fraction: float = 0.2
    heatmap_quantile: float = 0.97
    seed: int = 0

    CONSTRAINTS: ClassVar[dict[str, Any]] = {
        "mode": frozenset({"global", "local"}),
        "fit_on": frozenset({"train", "sample"}),
        "inner_window": Interval(1, None, integer=True),
        "outer_window": Interval(3, None, integer=True),
        "components": (Interval(1, None, integer=True), None),
        "regularization": Interval(0, None),
        "modality": (frozenset({"image", "volume", "cube"}), None),
        "score_pooling": frozenset({"max", "mean", "topk"}),
        "topk_fraction": Interval(0, 1, closed=False),
        "threshold_quantile": Interval(0, 1),
        "threshold": (Interval(), None),
        "val_fraction": Interval(0, 1, closed=False),
        "heatmap_quantile": Interval(0, 1),
        "seed": Interval(0, None, integer=True),
    }

    def validate(self) -> None:
        """Check every field; the error names the field, its value and what is allowed."""
        validate_config(self, self.CONSTRAINTS, where="RXConfig")
        if self.inner_window % 2 == 0 or self.outer_window % 2 == 0:
            raise ConfigError(f"RXConfig: windows must be odd; got inner_window={self.inner_window}, "
                              f"outer_window={self.outer_window}")
        if self.inner_window >= self.outer_window:
            raise ConfigError(f"RXConfig: inner_window ({self.inner_window}) must be smaller than outer_window "
                              f"({self.outer_window})")


@dataclass
class Background:
    """A fitted background: mean ``(C,)``, principal axes ``(C, k)`` and their regularised variances ``(k,)``."""

    mean: np.ndarray
    axes: np.ndarray
    variances: np.ndarray

    @classmethod
    def fit(cls, pixels: np.ndarray, components: int | None, regularization: float) -> Background:
        """Fit on pixel vectors ``(P, C)``."""
        return cls.from_samples([np.asarray(pixels, dtype=np.float64).T], components, regularization)

    @classmethod
    def from_samples(cls, arrays: list[np.ndarray], components: int | None, regularization: float) -> Background:
        """Fit on the pixels of samples ``(C, *spatial)``, accumulated one sample at a time (no pooled copy)."""
        channels = arrays[0].shape[0]
        count, total, outer = 0, np.zeros(channels), np.zeros((channels, channels))
        for array in arrays:
            pixels = np.asarray(array, dtype=np.float64).reshape(channels, -1)
            count += pixels.shape[1]
            total += pixels.sum(axis=1)
            outer += pixels @ pixels.T
        mean = total / count
        covariance = (outer - count * np.outer(mean, mean)) / max(1, count - 1)
        values, vectors = np.linalg.eigh(covariance)
        order = np.argsort(values)[::-1]
        values, vectors = np.clip(values[order], 0.0, None), vectors[:, order]
        k = min(components or values.size, values.size)
        scale = max(float(values.mean()), 1e-12)
        ridge = max(regularization, 1e-9) * scale  # a floor: dead bands must not divide by zero
        return cls(mean, vectors[:, :k], values[:k] + ridge)

    def score(self, pixels: np.ndarray) -> np.ndarray:
        """Squared Mahalanobis distance of pixel vectors ``(P, C)`` in the kept components: ``(P,)``."""
        projected = (np.asarray(pixels, dtype=np.float64) - self.mean) @ self.axes
        return np.asarray((projected**2 / self.variances).sum(axis=1))

    def to_dict(self) -> dict[str, Any]:
        """Plain lists for the saved detector."""
        return {"mean": self.mean.tolist(), "axes": self.axes.tolist(), "variances": self.variances.tolist()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Background:
        """Rebuild from :meth:`to_dict` output."""
        return cls(np.asarray(data["mean"]), np.asarray(data["axes"]), np.asarray(data["variances"]))


def _pixels(array: np.ndarray) -> np.ndarray:
    """``(C, *spatial)`` -> ``(P, C)``."""
    return np.asarray(array, dtype=np.float64).reshape(array.shape[0], -1).T


def global_rx(array: np.ndarray, background: Background | None = None, *, components: int | None = None,
              regularization: float = 1e-3) -> np.ndarray:
    """Global RX map of one sample ``(C, *spatial)`` -> ``(*spatial)``.

    Args:
        array: The sample.
        background: A fitted background; None fits one on the sample's own pixels (transductive).
        components: Principal components kept when fitting here (None: all).
        regularization: Ridge as a fraction of the mean eigenvalue when fitting here.
    """
    pixels = _pixels(array)
    model = background or Background.fit(pixels, components, regularization)
    return model.score(pixels).reshape(array.shape[1:])


def local_rx(array: np.ndarray, *, inner_window: int = 3, outer_window: int = 11, components: int | None = None,
             regularization: float = 1e-3) -> np.ndarray:
    """Local (dual-window) RX map of one sample ``(C, *spatial)`` -> ``(*spatial)``.

    Each pixel's background is the ``outer_window`` box around it minus the ``inner_window`` guard box (borders
    reflected), in the sample's leading ``components`` principal components (default at most 10).
    """
    spatial = array.shape[1:]
    pixels = _pixels(array)
    k = min(components or LOCAL_COMPONENTS, pixels.shape[1])
    pca = Background.fit(pixels, k, 0.0)
    z = ((pixels - pca.mean) @ pca.axes).T.reshape(k, *spatial)  # (k, *spatial)
    n_out, n_in = outer_window ** len(spatial), inner_window ** len(spatial)
    n = n_out - n_in

    def ring_mean(field: np.ndarray) -> np.ndarray:
        outer = ndimage.uniform_filter(field, size=outer_window, mode="reflect") * n_out
        inner = ndimage.uniform_filter(field, size=inner_window, mode="reflect") * n_in
        return np.asarray((outer - inner) / n)

    means = np.stack([ring_mean(z[i]) for i in range(k)])
    second = np.empty((k, k, *spatial))
    for i in range(k):
        for j in range(i, k):
            second[i, j] = second[j, i] = ring_mean(z[i] * z[j])
    flat_mean = means.reshape(k, -1).T  # (P, k)
    covariance = second.reshape(k, k, -1).transpose(2, 0, 1) - flat_mean[:, :, None] * flat_mean[:, None, :]
    ridge = regularization * max(float(pca.variances.mean()), 1e-12) + 1e-9
    delta = z.reshape(k, -1).T - flat_mean
    scores = np.empty(delta.shape[0])
    eye = np.eye(k)
    for start in range(0, delta.shape[0], _CHUNK):
        rows = slice(start, start + _CHUNK)
        solved = np.linalg.solve(covariance[rows] + ridge * eye, delta[rows, :, None])[:, :, 0]
        scores[rows] = (delta[rows] * solved).sum(axis=1)
    return scores.reshape(spatial)


@DETECTORS.register("rx")
class RX(Detector):
    """RX anomaly detector (global or local Mahalanobis distance per pixel); higher score = more anomalous.

    Example:
        >>> rx = RX(mode="global", fit_on="sample")          # classical RX on each hyperspectral scene
        >>> heat = rx.fit(normal_cubes).explain(scene[None])  # (1, 1, H, W)

    Args:
        **params: Options of :class:`RXConfig`, stored as given and validated by ``fit``.
    """

    name = "rx"

    def __init__(self, **params: Any) -> None:
        self.params = dict(params)

    def get_config(self) -> RXConfig:
        """Return the validated config built from the constructor's parameters."""
        config = from_dict(RXConfig, dict(self.params), where="RX parameters")
        config.validate()
        return config

    def fit(self, data: Any, *, run_dir: str | Path | None = None, resume: bool = False,
            progress: bool = True) -> RX:
        """Fit the background on normal training samples and the threshold on held-out normal samples.

        Args:
            data: A data source whose ``train`` split gives normal samples and ``val`` split the threshold, or
                normal samples ``(N, C, *spatial)`` / a list of ``(C, *spatial)`` (``val_fraction`` held out).
            run_dir: Unused (nothing to checkpoint); accepted for the common protocol.
            resume: Unused.
            progress: Unused.
        """
        from seedlens.explain import GlobalNormalizer

        config = self.get_config()
        arrays, val, modality = normal_train_val(
            data, Modality.parse(config.modality) if config.modality else None, config.val_fraction, config.seed
        )
        self.config_ = config
        self.modality_ = modality
        self.in_channels_ = int(arrays[0].shape[0])
        self.spatial_dims_ = arrays[0].ndim - 1
        for array in arrays:
            self._check(array)
        self.background_ = Background.from_samples(arrays, config.components, config.regularization)
        for array in val:
            self._check(array)
        maps = [self._map(a) for a in val]
        scores = np.asarray([self._pool(m) for m in maps])
        self.val_scores_ = scores
        self.threshold_ = float(config.threshold) if config.threshold is not None else float(
            np.quantile(scores, config.threshold_quantile))
        self.normalizer_ = GlobalNormalizer().fit(np.stack([m[None] for m in maps]) if _same(maps) else
                                                  np.concatenate([m.reshape(1, 1, -1) for m in maps], axis=2),
                                                  quantile=config.heatmap_quantile)
        return self

    def _check(self, array: np.ndarray) -> None:
        layout = "(C, D, H, W)" if self.spatial_dims_ == 3 else "(C, H, W)"
        if array.ndim != self.spatial_dims_ + 1:
            raise ShapeError(f"this detector was fitted on {self.modality_.value} samples {layout}; got shape "
                             f"{tuple(array.shape)}")
        if array.shape[0] != self.in_channels_:
            word = "bands" if self.modality_ is Modality.CUBE else "channels"
            raise ShapeError(f"{self.modality_.value} has {array.shape[0]} {word} but the detector was fitted on "
                             f"{self.in_channels_} {word}")

    def _map(self, array: np.ndarray) -> np.ndarray:
        config = self.config_
        if config.mode == "local":
            return local_rx(array, inner_window=config.inner_window, outer_window=config.outer_window,
                            components=config.components, regularization=config.regularization)
        background = None if config.fit_on == "sample" else self.background_
        return global_rx(array, background, components=config.components, regularization=config.regularization)

    def _pool(self, heat: np.ndarray) -> float:
        flat = np.sort(heat.ravel())
        if self.config_.score_pooling == "max":
            return float(flat[-1])
        if self.config_.score_pooling == "mean":
            return float(flat.mean())
        k = max(1, round(self.config_.topk_fraction * flat.size))
        return float(flat[-k:].mean())

    def _maps(self, x: ArrayBatch) -> list[np.ndarray]:
        if not hasattr(self, "background_"):
            from seedlens.errors import NotFittedError

            raise NotFittedError("this RX detector is not fitted: call fit() or load_detector()")
        arrays = as_array_list(x)
        for array in arrays:
            self._check(array)
        return [self._map(np.asarray(a)) for a in arrays]

    def score(self, x: ArrayBatch) -> np.ndarray:
        """Return anomaly scores ``(N,)`` (pooled RX maps), higher = more anomalous."""
        return np.asarray([self._pool(m) for m in self._maps(x)])

    def explain(self, x: ArrayBatch, normalize: str | None = None) -> np.ndarray | list[np.ndarray]:
        """Return RX maps ``(N, 1, *spatial)`` (a list when sizes differ): raw, ``local`` or ``global`` scaled."""
        return self.score_and_explain(x, normalize)[1]

    def score_and_explain(
        self, x: ArrayBatch, normalize: str | None = None
    ) -> tuple[np.ndarray, np.ndarray | list[np.ndarray]]:
        """Return scores ``(N,)`` and maps (see :meth:`explain`) from one RX pass."""
        check_normalize(normalize)
        raw = self._maps(x)
        scores = np.asarray([self._pool(m) for m in raw])
        return scores, stack_or_list(self._normalized([m[None].astype(np.float32) for m in raw], normalize))

    def save(self, path: str | Path) -> Path:
        """Write the config and the fitted background, threshold and heatmap statistics into ``path``."""
        folder = self._start_saving(path)
        state = {
            "modality": self.modality_.value, "in_channels": self.in_channels_, "spatial_dims": self.spatial_dims_,
            "background": self.background_.to_dict(), "threshold": self.threshold_,
            "val_scores": self.val_scores_.tolist(), "normalizer": self.normalizer_.to_dict(),
        }
        atomic_write_bytes(folder / STATE_FILE, json.dumps(state).encode())
        return folder

    @classmethod
    def load(cls, path: str | Path, device: str = "auto") -> RX:
        """Rebuild a fitted RX detector from a folder written by :meth:`save` (``device`` is unused)."""
        from seedlens.explain import GlobalNormalizer

        _, params, state = cls._read_saved(path)
        detector = cls(**params)
        detector.config_ = detector.get_config()
        detector.modality_ = Modality.parse(state["modality"])
        detector.in_channels_ = int(state["in_channels"])
        detector.spatial_dims_ = int(state["spatial_dims"])
        detector.background_ = Background.from_dict(state["background"])
        detector.val_scores_ = np.asarray(state["val_scores"])
        detector.normalizer_ = GlobalNormalizer.from_dict(state["normalizer"])
        detector.threshold_ = float(state["threshold"])
        return detector


def _same(maps: list[np.ndarray]) -> bool:
    return all(m.shape == maps[0].shape for m in maps)
