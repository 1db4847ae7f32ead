"""RX (Reed–Xiaoli) and its nonparametric kin: classical per-pixel anomaly detectors, any modality.

Each pixel (voxel) is a vector of its channels — the spectrum of a hyperspectral cube, the intensity of a CT
voxel. Its anomaly score is a distance to a background model:

* **global** RX: the squared Mahalanobis distance ``(x - μ)ᵀ Σ⁻¹ (x - μ)`` to one mean and covariance for the
  whole background (the training pixels, or with ``fit_on="sample"`` every pixel of the scored sample itself —
  the classical transductive use on one scene);
* **local** RX: the same with a mean and covariance per pixel from a dual window around it — the
  ``outer_window`` minus the ``inner_window`` guard, which keeps the target itself out of its background —
  always from the scored sample;
* **knn**: the mean Euclidean distance to the ``neighbours`` nearest background pixels in the whitened space of
  the background's leading principal components (RX measures the distance to the background's *mean* in that
  space). A background of several materials — roads, roofs, water, vegetation — is a mixture, not one
  Gaussian: a pixel of a common material has close neighbours even where it lies far from the mean, while a
  rare target, whose pixels are fewer than ``neighbours``, has to reach into the background for most of them.

Spectra are first projected on the leading principal components of the background (``components``; all
channels for global RX, at most 10 for local RX, whose few window pixels could not support more, 4 for knn),
and the covariance is regularised by ``regularization`` × its mean eigenvalue. Maps come back at the input
resolution, optionally smoothed by a Gaussian of ``smoothing`` pixels (default 0.5 for knn: a target covers
several pixels, single noisy pixels do not), and scores pool them (``topk`` by default).

knn settings suit scenes differently, and a single new scene has no labels to choose them on. Given lists
instead of single values (``components=(3, 4, 5, 7, 10)``, ``neighbours=(20, 50, 100, 200)``,
``smoothing=(0.0, 0.5, 1.0)``), knn maps with every combination and averages them, each first put on one scale
by its median and median absolute deviation (MAD) over the background: the scene's own pixels (``fit_on="sample"``)
or the normal validation samples (``fit_on="train"``). No setting is chosen, so none can be chosen wrongly.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from scipy import ndimage

from seedlens.anomaly.pooling import POOLINGS, pool_maps
from seedlens.config import Each, Interval, atomic_write_bytes, from_dict, validate_config
from seedlens.detectors._inputs import as_array_list, even_counts, read_npz, stack_or_list
from seedlens.detectors._intake import normal_train_val
from seedlens.detectors.base import DETECTORS, STATE_FILE, ArrayBatch, Detector, check_normalize
from seedlens.errors import ConfigError, ReadError, ShapeError
from seedlens.types import Modality

LOCAL_COMPONENTS = 10
KNN_COMPONENTS = 4
KNN_SMOOTHING = 0.5
BANK_FILE = "bank.npz"
_CHUNK = 65_536  # pixels per batched solve in local RX
_KNN_CHUNK = 16_384  # queries per neighbour search (each keeps up to max(neighbours) distances)
#: A knn ensemble member: components, neighbours, smoothing.
Member = tuple[int, int, float]


@dataclass
class RXConfig:
    """Options of :class:`RX`.

    Attributes:
        mode: ``global`` or ``local`` (dual-window) RX, or ``knn`` (distance to the nearest background pixels).
        fit_on: Where global RX and knn take their background: ``train`` (the normal training samples) or
            ``sample`` (each scored sample's own pixels, transductive). Local RX always uses the sample.
        inner_window: Side of the guard window excluded from the local background (odd).
        outer_window: Side of the local background window (odd, larger than ``inner_window``).
        components: Principal components kept; None: all channels (global), at most 10 (local) or 4 (knn).
            knn also takes a list: an ensemble (see the module docstring).
        regularization: Ridge added to the covariance, as a fraction of its mean eigenvalue.
        neighbours: Background pixels whose mean distance is the knn score; larger than a target's pixel count.
            A list: an ensemble.
        memory_size: Most background pixels kept for knn (drawn at random, evenly over the training samples).
        smoothing: Standard deviation in pixels of a Gaussian applied to each map; None: 0.5 for knn, 0 for RX.
            A list (knn): an ensemble.
        modality: ``image``, ``volume`` or ``cube``; None infers it (4 axes = volume, else image).
        score_pooling: ``max``, ``mean`` or ``topk`` (mean of the highest ``topk_fraction`` of the map).
        topk_fraction: Fraction of the map averaged by ``topk``.
        threshold_quantile: Quantile of normal validation scores used as the threshold.
        threshold: A fixed threshold instead, in the units of the scores (for a knn ensemble: of the scaled maps).
        val_fraction: Fraction of normal training samples held out for the threshold without a val split.
        heatmap_quantile: Quantile at which heatmaps are clipped for display normalisation.
        seed: Seed of the hold-out draw.
    """

    mode: str = "global"
    fit_on: str = "train"
    inner_window: int = 3
    outer_window: int = 11
    components: int | tuple[int, ...] | None = None
    regularization: float = 1e-3
    neighbours: int | tuple[int, ...] = 100
    memory_size: int = 50_000
    smoothing: float | tuple[float, ...] | None = None
    modality: str | None = None
    score_pooling: str = "topk"
    topk_fraction: float = 0.01
    threshold_quantile: float = 0.95
    threshold: float | None = None
    val_fraction: float = 0.2
    heatmap_quantile: float = 0.97
    seed: int = 0

    CONSTRAINTS: ClassVar[dict[str, Any]] = {
        "mode": frozenset({"global", "local", "knn"}),
        "fit_on": frozenset({"train", "sample"}),
        "inner_window": Interval(1, None, integer=True),
        "outer_window": Interval(3, None, integer=True),
        "components": (Interval(1, None, integer=True), Each(Interval(1, None, integer=True)), None),
        "regularization": Interval(0, None),
        "neighbours": (Interval(1, None, integer=True), Each(Interval(1, None, integer=True))),
        "memory_size": Interval(2, None, integer=True),
        "smoothing": (Interval(0, None), Each(Interval(0, None)), None),
        "modality": (frozenset({"image", "volume", "cube"}), None),
        "score_pooling": POOLINGS,
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
        lists = [name for name in ("components", "neighbours", "smoothing") if isinstance(getattr(self, name), tuple)]
        if lists and self.mode != "knn":
            raise ConfigError(f"RXConfig: lists of settings (an ensemble: {', '.join(lists)}) need mode='knn'; got "
                              f"mode={self.mode!r}")

    @property
    def members(self) -> list[Member]:
        """The knn ensemble members: every combination of components, neighbours and smoothing (defaults filled)."""
        components = _as_tuple(self.components if self.components is not None else KNN_COMPONENTS)
        smoothing = _as_tuple(self.smoothing if self.smoothing is not None else KNN_SMOOTHING)
        return [(int(p), int(k), float(sigma)) for p in components for k in _as_tuple(self.neighbours)
                for sigma in smoothing]

    @property
    def is_ensemble(self) -> bool:
        """Whether knn averages several settings' maps."""
        return self.mode == "knn" and len(self.members) > 1


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

    def whiten(self, pixels: np.ndarray) -> np.ndarray:
        """Pixel vectors ``(P, C)`` in the kept components, each scaled to unit variance: ``(P, k)``."""
        return np.asarray((np.asarray(pixels, dtype=np.float64) - self.mean) @ self.axes / np.sqrt(self.variances))

    def score(self, pixels: np.ndarray) -> np.ndarray:
        """Squared Mahalanobis distance of pixel vectors ``(P, C)`` in the kept components: ``(P,)``."""
        return np.asarray((self.whiten(pixels) ** 2).sum(axis=1))

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


def knn_map(array: np.ndarray, background: Background | None = None, bank: np.ndarray | None = None, *,
            neighbours: int = 100, components: int | None = None, regularization: float = 1e-3,
            memory_size: int = 50_000, seed: int = 0) -> np.ndarray:
    """Background-kNN map of one sample ``(C, *spatial)`` -> ``(*spatial)``.

    Each pixel's value is its mean distance, whitened, to its ``neighbours`` nearest background pixels (a
    sample of a single pixel has no background: its map is 0, as for RX).

    Args:
        array: The sample.
        background: A fitted background and ``bank``, its whitened pixels ``(M, k)``; None fits both on the
            sample's own pixels (transductive; a pixel is never its own neighbour).
        bank: The background's pixels, whitened by ``background``.
        neighbours: Nearest background pixels averaged (at least 1; at most the background's pixels).
        components: Principal components kept (None: 4 when fitting here, all of a given background's).
        regularization: Ridge as a fraction of the mean eigenvalue when fitting here.
        memory_size: Most pixels of the sample kept as its background when fitting here (drawn at random; ≥ 2).
        seed: Seed of that draw.

    Raises:
        ConfigError: ``neighbours``, ``components`` or ``memory_size`` is out of range, or only one of background
            and bank is given.
    """
    if components is None:
        components = bank.shape[1] if bank is not None and bank.ndim == 2 else KNN_COMPONENTS
    maps = knn_maps(array, background, bank, neighbours=(neighbours,), components=(components,),
                    regularization=regularization, memory_size=memory_size, seed=seed)
    return next(iter(maps.values()))


def knn_maps(array: np.ndarray, background: Background | None = None, bank: np.ndarray | None = None, *,
             neighbours: tuple[int, ...] = (100,), components: tuple[int, ...] = (KNN_COMPONENTS,),
             regularization: float = 1e-3, memory_size: int = 50_000, seed: int = 0
             ) -> dict[tuple[int, int], np.ndarray]:
    """Background-kNN maps of one sample ``(C, *spatial)`` for every pair of components and neighbours.

    One neighbour search per number of components serves every ``neighbours`` value. A background fitted
    elsewhere is used in its leading ``components`` (the whitened coordinates of fewer components are the
    first columns of more).

    Args:
        array: The sample.
        background: As for :func:`knn_map`.
        bank: As for :func:`knn_map`.
        neighbours: Numbers of nearest background pixels averaged (each at least 1).
        components: Numbers of principal components (each at least 1).
        regularization: As for :func:`knn_map`.
        memory_size: As for :func:`knn_map`.
        seed: As for :func:`knn_map`.

    Returns:
        ``{(components, neighbours): map (*spatial)}`` keyed by the settings actually used: components beyond
        the background's and neighbours beyond its pixels are capped, and settings that become equal give
        one map.

    Raises:
        ConfigError: As for :func:`knn_map`.
    """
    from sklearn.neighbors import NearestNeighbors

    if not neighbours or not components or min(neighbours) < 1 or min(components) < 1 or memory_size < 2:
        raise ConfigError(f"knn maps need neighbours >= 1, components >= 1 and memory_size >= 2; got "
                          f"neighbours={neighbours}, components={components}, memory_size={memory_size}")
    if (background is None) != (bank is None):
        raise ConfigError("knn maps need both a background and its bank, or neither")
    pixels = _pixels(array)
    spatial = array.shape[1:]
    own = background is None or bank is None
    if own:
        if len(pixels) < 2:
            return {(1, 1): np.zeros(spatial)}
        background = Background.fit(pixels, max(components), regularization)
        z = background.whiten(pixels)
        kept = np.arange(len(z))
        if len(z) > memory_size:
            kept = np.sort(np.random.default_rng(seed).choice(len(z), size=memory_size, replace=False))
        bank = z[kept]
    else:
        assert background is not None and bank is not None
        z = background.whiten(pixels)
    ks = tuple(dict.fromkeys(min(k, len(bank) - 1 if own else len(bank)) for k in neighbours))
    maps = {}
    for columns in dict.fromkeys(min(p, bank.shape[1]) for p in components):
        index = NearestNeighbors().fit(bank[:, :columns])
        scores = np.empty((len(ks), len(z)))
        if own:
            scores[:, kept] = _mean_distances(index, z[kept, :columns], ks, own=True)
            rest = np.setdiff1d(np.arange(len(z)), kept, assume_unique=True)
            if rest.size:
                scores[:, rest] = _mean_distances(index, z[rest, :columns], ks)
        else:
            scores[:] = _mean_distances(index, z[:, :columns], ks)
        maps.update({(columns, k): row.reshape(spatial) for k, row in zip(ks, scores, strict=True)})
    return maps


def _mean_distances(index: Any, queries: np.ndarray, ks: tuple[int, ...], *, own: bool = False) -> np.ndarray:
    """Mean distance of each query ``(P, d)`` to its ``k`` nearest indexed points, for each ``k``: ``(len(ks), P)``.

    Queries go in chunks (bounded memory on large scenes). ``own``: the queries are the indexed points, so each
    one's nearest (itself, at distance 0 — or a duplicate at the same distance) is left out.
    """
    out = np.empty((len(ks), len(queries)))
    most = max(ks)
    for start in range(0, len(queries), _KNN_CHUNK):
        chunk = queries[start:start + _KNN_CHUNK]
        distances = index.kneighbors(chunk, most + 1)[0][:, 1:] if own else index.kneighbors(chunk, most)[0]
        running = np.cumsum(distances, axis=1)
        for row, k in enumerate(ks):
            out[row, start:start + len(chunk)] = running[:, k - 1] / k
    return out


def rx_map(array: np.ndarray, config: RXConfig, background: Background | None = None,
           bank: np.ndarray | None = None, scales: dict[Member, tuple[float, float]] | None = None) -> np.ndarray:
    """The map ``(*spatial)`` of one sample ``(C, *spatial)`` under ``config``, smoothed as configured.

    ``background`` (and for knn its whitened ``bank``) come from the training samples; they are unused with
    ``fit_on="sample"`` and by local RX, which take the background from the sample itself. A knn ensemble
    fitted on training samples also needs each member's ``scales`` (median, MAD) from :func:`member_scales`.
    """
    own = config.fit_on == "sample"
    if not own and config.mode != "local" and (background is None or (config.mode == "knn" and bank is None)):
        raise ConfigError("rx_map with fit_on='train' needs the fitted background (and for knn its bank)")
    if config.mode == "knn":
        maps = knn_member_maps(array, config, background, bank)
        if not config.is_ensemble:
            return next(iter(maps.values()))
        if own:
            scales = {member: member_scale(heat) for member, heat in maps.items()}
        elif scales is None:
            raise ConfigError("rx_map of a knn ensemble with fit_on='train' needs the members' scales (fit the "
                              "detector)")
        return ensemble_map(maps, scales)
    components = _scalar(config.components)
    if config.mode == "local":
        heat = local_rx(array, inner_window=config.inner_window, outer_window=config.outer_window,
                        components=components, regularization=config.regularization)
    else:
        heat = global_rx(array, None if own else background, components=components,
                         regularization=config.regularization)
    return _smooth(heat, float(_scalar(config.smoothing) or 0.0))


def knn_member_maps(array: np.ndarray, config: RXConfig, background: Background | None = None,
                    bank: np.ndarray | None = None) -> dict[Member, np.ndarray]:
    """The smoothed knn map ``(*spatial)`` of one sample ``(C, *spatial)`` for each member of ``config.members``.

    Keyed by the settings actually used (see :func:`knn_maps`): members that capping makes equal count once.
    """
    own = config.fit_on == "sample"
    members = config.members
    raw = knn_maps(array, None if own else background, None if own else bank,
                   neighbours=tuple(dict.fromkeys(k for _, k, _ in members)),
                   components=tuple(dict.fromkeys(p for p, _, _ in members)),
                   regularization=config.regularization, memory_size=config.memory_size, seed=config.seed)
    smoothing = dict.fromkeys(sigma for _, _, sigma in members)
    return {(p, k, sigma): _smooth(heat, sigma) for (p, k), heat in raw.items() for sigma in smoothing}


def member_scale(values: np.ndarray) -> tuple[float, float]:
    """Median and spread of a member's map values: the median absolute deviation (MAD).

    Where more than half the values are equal (a flat background) the MAD is 0; the standard deviation takes
    its place (a value's distance from the median in it is at most the square root of the value count, so one
    member cannot swamp the others without bound), and a constant map keeps the scale 1.
    """
    median = float(np.median(values))
    deviation = np.abs(values - median)
    for spread in (float(np.median(deviation)), float(np.std(values))):
        if spread > 1e-9 * max(abs(median), float(deviation.max()), 1e-30):
            return median, spread
    return median, 1.0


def member_scales(maps: list[dict[Member, np.ndarray]]) -> dict[Member, tuple[float, float]]:
    """Each member's :func:`member_scale` over its maps of several (normal) samples."""
    return {member: member_scale(np.concatenate([m[member].ravel() for m in maps])) for member in maps[0]}


def ensemble_map(maps: dict[Member, np.ndarray], scales: dict[Member, tuple[float, float]]) -> np.ndarray:
    """Mean over members of each map put on one scale: ``(map - median) / MAD``."""
    return np.asarray(np.mean([(heat - scales[member][0]) / scales[member][1] for member, heat in maps.items()],
                              axis=0))


def _smooth(heat: np.ndarray, sigma: float) -> np.ndarray:
    return np.asarray(ndimage.gaussian_filter(heat, sigma, mode="reflect")) if sigma > 0 else heat


def _as_tuple(value: Any) -> tuple[Any, ...]:
    return value if isinstance(value, tuple) else (value,)


def _scalar(value: Any) -> Any:
    """A setting that RXConfig.validate allows as a list only for knn."""
    if isinstance(value, tuple):
        raise ConfigError(f"lists of settings are for mode='knn'; got {list(value)}")
    return value


def scene_map(array: np.ndarray, **options: Any) -> np.ndarray:
    """Transductive map ``(*spatial)`` of one scene ``(C, *spatial)``: its own pixels are the background.

    The unsupervised use on a single hyperspectral scene: nothing to fit beforehand. ``options`` are those of
    :class:`RXConfig` (``fit_on`` is ``sample``), e.g. ``scene_map(cube, mode="knn")``.

    Raises:
        ConfigError: an option is invalid (or ``fit_on`` is not ``sample``).
        ShapeError: ``array`` is not one sample ``(C, H, W)`` or ``(C, D, H, W)``.
    """
    if options.get("fit_on", "sample") != "sample":
        raise ConfigError(f"scene_map fits on the scene itself (fit_on='sample'); got fit_on={options['fit_on']!r} "
                          "(fit an RX detector on training samples instead)")
    array = np.asarray(array)
    if array.ndim not in (3, 4) or array.size == 0:
        raise ShapeError(f"scene_map takes one sample (C, H, W) or (C, D, H, W) with pixels; got shape "
                         f"{tuple(array.shape)}")
    config = from_dict(RXConfig, {**options, "fit_on": "sample"}, where="RX options")
    config.validate()
    return rx_map(array, config)


@DETECTORS.register("rx", summary="per-pixel Mahalanobis distance (RX) or background kNN, no network",
                    modalities=("image", "volume", "cube"), needs_training=False)
class RX(Detector):
    """Per-pixel anomaly detector (global or local RX, or background kNN); higher score = more anomalous.

    Example:
        >>> rx = RX(mode="knn", fit_on="sample")             # background kNN on each hyperspectral scene
        >>> heat = rx.fit(normal_cubes).explain(scene[None])  # (1, 1, H, W)
        >>> heat = scene_map(scene, mode="knn")               # the same without normal cubes: (H, W)

    Args:
        **params: Options of :class:`RXConfig`, stored as given and validated by ``fit``.
    """

    name = "rx"
    Config = RXConfig
    config_: RXConfig

    def fit(self, data: Any, y: Any = None, *, run_dir: str | Path | None = None, resume: bool = False,
            progress: bool = True) -> RX:
        """Fit the background on normal training samples and the threshold on held-out normal samples.

        Args:
            data: A data source whose ``train`` split gives normal samples and ``val`` split the threshold, or
                samples ``(N, C, *spatial)`` / a list of ``(C, *spatial)`` (``val_fraction`` of the normal ones
                held out).
            y: With an array batch, 0 (normal) / 1 (anomalous) per sample, as scikit-learn's ``fit(X, y)``: only
                the normal samples are used. None: every sample is normal.
            run_dir: Unused (nothing to checkpoint); accepted for the common protocol.
            resume: Unused.
            progress: Unused.

        Raises:
            ConfigError: an option is invalid, ``y`` comes with a data source, or ``y`` is not 0/1.
            ShapeError: ``y`` has not one label per sample, or a sample's layout or channel count differs from the
                first's.
        """
        from seedlens.explain import GlobalNormalizer

        config: RXConfig = self.get_config()
        arrays, val, modality = normal_train_val(
            data, y, Modality.parse(config.modality) if config.modality else None, config.val_fraction, config.seed
        )
        self.config_ = config
        self.modality_ = modality
        self.in_channels_ = int(arrays[0].shape[0])
        self.spatial_dims_ = arrays[0].ndim - 1
        for array in arrays:
            self._check(array)
        components = max(p for p, _, _ in config.members) if config.mode == "knn" else _scalar(config.components)
        self.background_ = Background.from_samples(arrays, components, config.regularization)
        self.bank_ = self._draw_bank(arrays) if _uses_bank(config) else None
        for array in val:
            self._check(array)
        self.scales_: dict[Member, tuple[float, float]] | None = None
        if config.is_ensemble and config.fit_on == "train":  # members on one scale: that of the normal val maps
            members = [knn_member_maps(a, config, self.background_, self.bank_) for a in val]
            self.scales_ = member_scales(members)
            maps = [ensemble_map(m, self.scales_) for m in members]
        else:
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

    def _draw_bank(self, arrays: list[np.ndarray]) -> np.ndarray:
        """Whitened background pixels ``(≤ memory_size, k)`` for knn, drawn at random, evenly over the samples."""
        rng = np.random.default_rng(self.config_.seed)
        sizes = [int(np.prod(a.shape[1:])) for a in arrays]
        drawn = []
        for array, size, count in zip(arrays, sizes, even_counts(sizes, self.config_.memory_size), strict=True):
            take = np.sort(rng.choice(size, size=int(count), replace=False))
            drawn.append(self.background_.whiten(_pixels(array)[take]))
        return np.concatenate(drawn).astype(np.float32)

    def _map(self, array: np.ndarray) -> np.ndarray:
        return rx_map(array, self.config_, self.background_, self.bank_, self.scales_)

    def _pool(self, heat: np.ndarray) -> float:
        """The score of one map ``(*spatial)``, pooled by :func:`~seedlens.anomaly.pool_maps`."""
        maps = torch.from_numpy(np.ascontiguousarray(heat))[None, None]
        return float(pool_maps(maps, self.config_.score_pooling, self.config_.topk_fraction)[0])

    def _maps(self, x: ArrayBatch) -> list[np.ndarray]:
        if not hasattr(self, "background_"):
            from seedlens.errors import NotFittedError

            raise NotFittedError("this RX detector is not fitted: call fit() or load_detector()")
        arrays = as_array_list(x)
        for array in arrays:
            self._check(array)
        return [self._map(np.asarray(a)) for a in arrays]

    def score(self, x: ArrayBatch, spacing: Any = None) -> np.ndarray:
        """Return anomaly scores ``(N,)`` (pooled RX maps), higher = more anomalous.

        ``spacing`` is not used: RX works on the pixel grid.
        """
        return np.asarray([self._pool(m) for m in self._maps(x)])

    def explain(
        self, x: ArrayBatch, normalize: str | None = None, spacing: Any = None
    ) -> np.ndarray | list[np.ndarray]:
        """Return RX maps ``(N, 1, *spatial)`` (a list when sizes differ): raw, ``local`` or ``global`` scaled."""
        return self.score_and_explain(x, normalize)[1]

    def score_and_explain(
        self, x: ArrayBatch, normalize: str | None = None, spacing: Any = None
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
        if self.scales_ is not None:
            state["ensemble_scales"] = [[*member, *scale] for member, scale in self.scales_.items()]
        if self.bank_ is not None:
            buffer = io.BytesIO()
            np.savez(buffer, bank=self.bank_)
            atomic_write_bytes(folder / BANK_FILE, buffer.getvalue())
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
        detector.bank_ = None
        if _uses_bank(detector.config_):
            detector.bank_ = read_npz(Path(path) / BANK_FILE, ["bank"], "knn background pixels")["bank"]
            if detector.bank_.ndim != 2 or detector.bank_.shape[1] != detector.background_.axes.shape[1]:
                raise ReadError(Path(path) / BANK_FILE, f"knn background pixels of shape {detector.bank_.shape}; "
                                f"expected (M, {detector.background_.axes.shape[1]}) for this background")
        detector.scales_ = None
        if detector.config_.is_ensemble and detector.config_.fit_on == "train":
            assert detector.bank_ is not None
            detector.scales_ = _read_scales(state.get("ensemble_scales"),
                                            _fitted_members(detector.config_, detector.bank_), Path(path) / STATE_FILE)
        detector.val_scores_ = np.asarray(state["val_scores"])
        detector.normalizer_ = GlobalNormalizer.from_dict(state["normalizer"])
        detector.threshold_ = float(state["threshold"])
        return detector


def _fitted_members(config: RXConfig, bank: np.ndarray) -> list[Member]:
    """The members a knn ensemble fitted with ``bank`` ``(M, k)`` uses: settings capped as :func:`knn_maps` does."""
    members = config.members
    columns = dict.fromkeys(min(p, bank.shape[1]) for p, _, _ in members)
    neighbours = dict.fromkeys(min(k, len(bank)) for _, k, _ in members)
    smoothing = dict.fromkeys(sigma for _, _, sigma in members)
    return [(p, k, sigma) for p in columns for k in neighbours for sigma in smoothing]


def _read_scales(rows: Any, members: list[Member], path: Path) -> dict[Member, tuple[float, float]]:
    """The saved ``ensemble_scales`` ``[[components, neighbours, smoothing, median, spread], ...]``, one per member.

    Raises:
        ReadError: a member has no row, or a row is malformed (the spread must be finite and positive).
    """
    try:
        scales = {(int(p), int(k), float(sigma)): (float(median), float(spread))
                  for p, k, sigma, median, spread in rows}
    except (TypeError, ValueError):
        scales = {}
    well_formed = all(np.isfinite(median) and np.isfinite(spread) and spread > 0
                      for median, spread in scales.values())
    if not well_formed or set(scales) != set(members) or not isinstance(rows, list) or len(rows) != len(members):
        raise ReadError(path, "ensemble_scales must hold one row [components, neighbours, smoothing, median, "
                        f"spread > 0] for each member of the knn ensemble {members}")
    return scales


def _uses_bank(config: RXConfig) -> bool:
    """Whether the detector keeps whitened training pixels: knn with a training-fitted background."""
    return config.mode == "knn" and config.fit_on == "train"


def _same(maps: list[np.ndarray]) -> bool:
    return all(m.shape == maps[0].shape for m in maps)
