"""What every deep detector shares: data intake, preprocessing, training, calibration, persistence.

A subclass supplies three things: the network it trains (``_build_network``), the training loss of one
batch (``_loss``) and the per-sample anomaly maps and scores of a batch (``_maps_and_scores``). Everything
else — reading a data source, the held-out threshold, heatmaps at input resolution, save/load — is here
once.
"""

from __future__ import annotations

import itertools
import json
from abc import abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from seedlens.config import atomic_write_bytes, from_dict
from seedlens.detectors._inputs import as_array_list, infer_modality, stack_or_list
from seedlens.detectors.base import STATE_FILE, ArrayBatch, Detector, check_normalize
from seedlens.detectors.config import DeepDetectorConfig, training_budget
from seedlens.errors import ConfigError, ShapeError
from seedlens.types import Modality

#: File names inside a saved detector folder.
WEIGHTS_FILE = "weights.pt"

#: Input side length used when neither ``image_size`` nor the backbone fixes one.
DEFAULT_SIZE = {Modality.IMAGE: 64, Modality.VOLUME: 32, Modality.CUBE: 32}
#: What ``intensity="auto"`` resolves to per modality. Volumes (CT) are calibrated — equal values mean equal
#: density across scans — so one global min-max scaling keeps absolute density, where per-sample contrast
#: normalisation would rescale each volume by its own statistics and hide global density changes.
AUTO_INTENSITY = {Modality.IMAGE: "contrast", Modality.VOLUME: "minmax", Modality.CUBE: "zscore"}
#: Native input size of the registered 2D FCDD networks.
BACKBONE_SIZE = {"fcdd28": 28, "fcdd32": 32, "fcdd224": 224, "efficientnet_lite0": 224}


@dataclass
class TrainingData:
    """Samples a detector trains and calibrates on, already split.

    Attributes:
        train: Training arrays ``(C, *spatial)`` (normals, plus labelled anomalies if any).
        train_labels: 0 normal / 1 anomalous per training array.
        train_masks: Ground-truth anomaly maps ``(1, *spatial)`` or None per training array.
        val_normal: Normal arrays held out for the threshold and the global heatmap statistics.
        modality: Modality of the samples.
    """

    train: list[np.ndarray]
    train_labels: list[int]
    train_masks: list[np.ndarray | None]
    val_normal: list[np.ndarray]
    modality: Modality


class _TensorDataset(torch.utils.data.Dataset):
    """In-memory dataset of preprocessed samples yielding ``{"x", "label", "mask"}`` dicts."""

    def __init__(self, x: torch.Tensor, labels: torch.Tensor, masks: torch.Tensor) -> None:
        self.x, self.labels, self.masks = x, labels, masks

    def __len__(self) -> int:
        return int(self.x.shape[0])

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return {"x": self.x[index], "label": self.labels[index], "mask": self.masks[index]}


class DeepDetector(Detector):
    """Base of the neural detectors (FCDD, HSC, autoencoder). Higher score = more anomalous.

    Args:
        **params: Options of the detector's config class (see :class:`DeepDetectorConfig` and the subclass).
            They are stored as given and validated by ``fit``.
    """

    Config: ClassVar[type[DeepDetectorConfig]] = DeepDetectorConfig
    #: The training budget ``fit`` used: ``{"epochs": E, "samples_per_epoch": S}``; None if loaded from a detector
    #: saved before it was recorded.
    budget_: dict[str, int] | None

    def __init__(self, **params: Any) -> None:
        self.params = dict(params)

    # ------------------------------------------------------------------ configuration
    def get_config(self) -> DeepDetectorConfig:
        """Return the validated config built from the constructor's parameters."""
        config = from_dict(self.Config, dict(self.params), where=f"{type(self).__name__} parameters")
        config.validate()
        return config

    # ------------------------------------------------------------------ fitting
    def fit(
        self,
        data: Any,
        *,
        run_dir: str | Path | None = None,
        resume: bool = False,
        progress: bool = True,
    ) -> DeepDetector:
        """Train on normal data (plus synthetic or given anomalies), then fit the threshold.

        Args:
            data: A data source (``seedlens.data.open_source(...)``, a hub source...) whose ``train`` split is
                used for training and whose normal ``val`` samples set the threshold; or normal samples as a
                batch array ``(N, C, *spatial)`` / a sequence of ``(C, *spatial)`` arrays, of which
                ``val_fraction`` is held out for the threshold.
            run_dir: Folder for the per-epoch checkpoint and the training config; needed for ``resume``.
            resume: Continue an interrupted training from ``run_dir``'s checkpoint.
            progress: Show progress bars.

        Returns:
            self, fitted.

        Raises:
            ConfigError: an option is invalid.
            DataSourceError: the data has no normal training samples.
        """
        from seedlens.training import TrainConfig, select_device, train

        config = self.get_config()
        samples = self._training_data(data, config)
        self.config_ = config
        self.modality_ = samples.modality
        self._setup(config, samples)
        self.preprocessor_.fit(samples.train)

        device = select_device(config.device)
        torch.manual_seed(config.seed)
        self.network_ = self._build_network(config).to(device)
        dataset = self._dataset(samples)
        epochs, repeats = training_budget(config.epochs, len(samples.train), config.batch_size)
        train_config = TrainConfig(
            epochs=epochs,
            dataset_repeats=repeats,
            batch_size=config.batch_size,
            optimizer=config.optimizer,
            lr=config.lr,
            weight_decay=config.weight_decay,
            lr_decay=config.lr_decay,
            amp=config.amp,
            device=str(device),
            seed=config.seed,
        )
        self._before_training(samples)
        result = train(
            self.network_,
            self._loss,
            dataset,
            train_config,
            run_dir=Path(run_dir) if run_dir is not None else None,
            resume=resume,
            progress=progress,
        )
        self.history_ = list(result.losses)
        self.training_stats_ = {
            "samples_per_s": result.samples_per_s,
            "wall_time_s": result.wall_time_s,
            "device": result.device,
            "precision": result.precision,
        }
        self.budget_ = {"epochs": epochs, "samples_per_epoch": len(samples.train) * repeats}
        self.network_.eval()
        self._calibrate(samples.val_normal, config)
        return self

    def _training_data(self, data: Any, config: DeepDetectorConfig) -> TrainingData:
        """Split ``data`` into training samples and held-out normal validation samples."""
        rng = np.random.default_rng(config.seed)
        if hasattr(data, "records"):
            from seedlens.data.loading import load_record

            train_records = [r for r in data.records("train") if not r.is_anomalous or self._uses_labelled()]
            if not any(not r.is_anomalous for r in train_records):
                from seedlens.errors import DataSourceError

                raise DataSourceError(f"{getattr(data, 'root', data)}: no normal samples in the 'train' split")
            modality = Modality.parse(config.modality) if config.modality else None
            loaded = [load_record(r, modality=modality) for r in train_records]
            val = [load_record(r, modality=modality).array for r in data.records("val", normal_only=True)]
            arrays = [s.array for s in loaded]
            labels = [int(r.is_anomalous) for r in train_records]
            masks = [s.mask for s in loaded]
            modality = modality or loaded[0].meta.modality
            if not val:
                arrays, labels, masks, val = _hold_out(arrays, labels, masks, config.val_fraction, rng)
            return TrainingData(arrays, labels, masks, val, Modality.parse(modality))
        arrays = as_array_list(data)
        if not arrays:
            raise ConfigError("fit needs at least one normal sample; got an empty batch")
        modality = Modality.parse(config.modality) if config.modality else infer_modality(arrays[0])
        no_masks: list[np.ndarray | None] = [None] * len(arrays)
        arrays, labels, kept_masks, val = _hold_out(arrays, [0] * len(arrays), no_masks, config.val_fraction, rng)
        return TrainingData(arrays, labels, kept_masks, val, modality)

    def _setup(self, config: DeepDetectorConfig, samples: TrainingData) -> None:
        """Resolve backbone, input size, channels and the preprocessor from the config and the data."""
        from seedlens.data.transforms import Preprocessor

        modality = samples.modality
        first = samples.train[0]
        spatial_dims = modality.spatial_dims
        if first.ndim != spatial_dims + 1:
            layout = {2: "(C, H, W)", 3: "(C, D, H, W)"}[spatial_dims]
            raise ShapeError(f"{modality.value} samples must be {layout}; got shape {tuple(first.shape)}")
        backbone = config.backbone
        if backbone == "auto":
            backbone = _auto_backbone(modality, config.image_size)
        size = config.image_size or BACKBONE_SIZE.get(backbone) or DEFAULT_SIZE[modality]
        intensity = config.intensity
        if intensity == "auto":
            intensity = AUTO_INTENSITY[modality]
        if intensity == "window" and config.window is None:
            raise ConfigError("intensity='window' needs window=(level, width), e.g. (-600, 1500) for lung CT")
        self.backbone_name_ = backbone
        self.input_size_ = (int(size),) * spatial_dims
        self.in_channels_ = int(first.shape[0])
        self.preprocessor_ = Preprocessor(
            size=self.input_size_,
            channels=self.in_channels_,
            intensity=intensity,
            window=(float(config.window[0]), float(config.window[1])) if config.window is not None else None,
        )
        pooling = config.score_pooling
        self.score_pooling_ = ("topk" if modality is Modality.VOLUME else "mean") if pooling == "auto" else pooling

    def _dataset(self, samples: TrainingData) -> _TensorDataset:
        x = torch.from_numpy(np.stack([self.preprocessor_(a) for a in samples.train]))
        labels = torch.tensor(samples.train_labels, dtype=torch.float32)
        masks = torch.zeros((x.shape[0], 1, *x.shape[2:]), dtype=torch.float32)
        for i, m in enumerate(samples.train_masks):
            if m is not None:
                masks[i] = torch.from_numpy(self._resize_mask(m))
            elif samples.train_labels[i]:
                masks[i] = 1.0  # a labelled anomaly without a map: the whole sample is anomalous
        return _TensorDataset(x, labels, masks)

    def _resize_mask(self, mask: np.ndarray) -> np.ndarray:
        from seedlens.data.transforms import resize

        resized = resize(mask.astype(np.float32).reshape(1, *mask.shape[-len(self.input_size_) :]), self.input_size_)
        return (np.asarray(resized) > 0.5).astype(np.float32)

    def _calibrate(self, val_normal: list[np.ndarray], config: DeepDetectorConfig) -> None:
        """Fit the threshold and the global heatmap normaliser on held-out normal samples."""
        from seedlens.explain import GlobalNormalizer

        scores, maps = self._infer(val_normal, want_maps=True, resize_back=False)
        self.val_scores_ = scores
        if config.threshold is not None:
            self.threshold_ = float(config.threshold)
        else:
            self.threshold_ = float(np.quantile(scores, config.threshold_quantile))
        assert maps is not None
        self.normalizer_ = GlobalNormalizer().fit(np.stack(maps), quantile=config.heatmap_quantile)

    # ------------------------------------------------------------------ inference
    def score(self, x: ArrayBatch) -> np.ndarray:
        """Return anomaly scores ``(N,)`` of raw samples (higher = more anomalous).

        Args:
            x: A batch ``(N, C, *spatial)`` or a sequence of ``(C, *spatial)`` arrays, as read from files;
                the detector applies its own preprocessing.
        """
        self._check_fitted()
        scores, _ = self._infer(as_array_list(x), want_maps=False)
        return scores

    def explain(self, x: ArrayBatch, normalize: str | None = None) -> np.ndarray | list[np.ndarray]:
        """Return anomaly heatmaps at each input's own resolution.

        Args:
            x: A batch ``(N, C, *spatial)`` or a sequence of ``(C, *spatial)`` arrays.
            normalize: None for raw anomaly values, ``"local"`` to scale each map by its own range, or
                ``"global"`` to scale by statistics of normal validation heatmaps (comparable across samples).

        Returns:
            ``(N, 1, *spatial)`` heatmaps, or a list of ``(1, *spatial)`` maps when input sizes differ.
        """
        self._check_fitted()
        _, maps = self._infer(as_array_list(x), want_maps=True, normalize=normalize)
        assert maps is not None
        return stack_or_list(maps)

    def score_and_explain(
        self, x: ArrayBatch, normalize: str | None = None
    ) -> tuple[np.ndarray, np.ndarray | list[np.ndarray]]:
        """Return ``score(x)`` and ``explain(x, normalize)`` from one forward pass."""
        self._check_fitted()
        scores, maps = self._infer(as_array_list(x), want_maps=True, normalize=normalize)
        assert maps is not None
        return scores, stack_or_list(maps)

    def _infer(
        self,
        arrays: list[np.ndarray],
        want_maps: bool,
        resize_back: bool = True,
        normalize: str | None = None,
        batch_size: int | None = None,
    ) -> tuple[np.ndarray, list[np.ndarray] | None]:
        """Scores ``(N,)`` and (optionally) per-sample maps ``(1, *spatial)`` of raw arrays."""
        check_normalize(normalize)
        network = self.network_
        network.eval()
        device = next(network.parameters()).device
        batch_size = batch_size or max(1, self.config_.batch_size)
        scores: list[np.ndarray] = []
        maps: list[np.ndarray] = []
        for start in range(0, len(arrays), batch_size):
            chunk = arrays[start : start + batch_size]
            x = torch.from_numpy(np.stack([self._preprocess(a) for a in chunk])).to(device)
            batch_maps, batch_scores = self._flip_averaged(x, want_maps)
            scores.append(batch_scores.detach().float().cpu().numpy())
            if want_maps:
                assert batch_maps is not None
                for a, m in zip(chunk, batch_maps.detach().float().cpu(), strict=True):
                    if resize_back and tuple(a.shape[1:]) != tuple(m.shape[1:]):
                        m = _interpolate(m, tuple(a.shape[1:]))
                    maps.append(m.numpy())
        all_scores = np.concatenate(scores) if scores else np.zeros(0, dtype=np.float32)
        if not want_maps:
            return all_scores, None
        return all_scores, self._normalized(maps, normalize)

    def _flip_averaged(self, x: torch.Tensor, want_maps: bool) -> tuple[torch.Tensor | None, torch.Tensor]:
        """``_maps_and_scores``, averaged over every flip of the spatial axes when ``test_time_flips`` is on."""
        if not getattr(self.config_, "test_time_flips", False):
            return self._maps_and_scores(x, want_maps)
        spatial = range(2, x.ndim)
        flips = [axes for r in range(len(spatial) + 1) for axes in itertools.combinations(spatial, r)]
        map_sum: torch.Tensor | None = None
        score_sum = torch.zeros(x.shape[0], device=x.device)
        for axes in flips:
            maps, scores = self._maps_and_scores(x.flip(axes) if axes else x, want_maps)
            score_sum = score_sum + scores.float()
            if maps is not None:
                maps = maps.flip(axes) if axes else maps
                map_sum = maps.float() if map_sum is None else map_sum + maps.float()
        n = len(flips)
        return (None if map_sum is None else map_sum / n), score_sum / n

    def _preprocess(self, array: np.ndarray) -> np.ndarray:
        expected = len(self.input_size_) + 1
        if array.ndim != expected:
            layout = "(C, D, H, W)" if expected == 4 else "(C, H, W)"
            raise ShapeError(
                f"this detector was trained on {self.modality_.value} samples {layout}; got shape {tuple(array.shape)}"
            )
        if self.modality_ is Modality.CUBE and array.shape[0] != self.in_channels_:
            raise ShapeError(
                f"cube has {array.shape[0]} bands but the detector was trained on {self.in_channels_} bands"
            )
        return np.asarray(self.preprocessor_(array), dtype=np.float32)

    def pool_scores(self, maps: torch.Tensor) -> torch.Tensor:
        """Pool anomaly maps ``(N, 1, *spatial)`` into sample scores ``(N,)`` with the fitted pooling."""
        flat = maps.flatten(1)
        if self.score_pooling_ == "mean":
            return flat.mean(dim=1)
        if self.score_pooling_ == "max":
            return flat.amax(dim=1)
        k = max(1, round(self.config_.topk_fraction * flat.shape[1]))
        return flat.topk(k, dim=1).values.mean(dim=1)

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | Path) -> Path:
        """Write config, weights and fitted state into the folder ``path``.

        ``load`` needs nothing else: preprocessing statistics, threshold and heatmap statistics are included.
        """
        folder = self._start_saving(path)
        buffer = _torch_bytes(self.network_.state_dict())
        atomic_write_bytes(folder / WEIGHTS_FILE, buffer)
        state = {
            "modality": self.modality_.value,
            "backbone": self.backbone_name_,
            "input_size": list(self.input_size_),
            "in_channels": self.in_channels_,
            "score_pooling": self.score_pooling_,
            "threshold": self.threshold_,
            "val_scores": [float(s) for s in self.val_scores_],
            "preprocessor": self.preprocessor_.to_dict(),
            "normalizer": self.normalizer_.to_dict(),
            "history": [float(v) for v in getattr(self, "history_", [])],
            "budget": getattr(self, "budget_", None),
            **self._extra_state(),
        }
        atomic_write_bytes(folder / STATE_FILE, json.dumps(state, indent=2).encode())
        return folder

    @classmethod
    def load(cls, path: str | Path, device: str = "auto") -> DeepDetector:
        """Rebuild a fitted detector from a folder written by :meth:`save`.

        Raises:
            ReadError: a file of the saved detector is missing or unreadable.
            ConfigError: the folder holds another detector type.
        """
        from seedlens.data.transforms import Preprocessor
        from seedlens.explain import GlobalNormalizer
        from seedlens.training import select_device

        folder, params, state = cls._read_saved(path, WEIGHTS_FILE)
        detector = cls(**params)
        config = detector.get_config()
        detector.config_ = config
        detector.modality_ = Modality.parse(state["modality"])
        detector.backbone_name_ = state["backbone"]
        detector.input_size_ = tuple(state["input_size"])
        detector.in_channels_ = int(state["in_channels"])
        detector.score_pooling_ = state["score_pooling"]
        detector.preprocessor_ = Preprocessor.from_dict(state["preprocessor"])
        detector.normalizer_ = GlobalNormalizer.from_dict(state["normalizer"])
        detector.val_scores_ = np.asarray(state["val_scores"], dtype=np.float64)
        detector.history_ = list(state.get("history", []))
        detector.budget_ = state.get("budget")  # None for detectors saved before the budget was recorded
        detector._load_extra_state(state)
        network = detector._build_network(config)
        weights = torch.load(folder / WEIGHTS_FILE, map_location="cpu", weights_only=True)
        network.load_state_dict(weights, strict=True)
        detector.network_ = network.to(select_device(device)).eval()
        detector.threshold_ = float(state["threshold"])
        return detector

    # ------------------------------------------------------------------ subclass hooks
    def _uses_labelled(self) -> bool:
        """Whether labelled anomalies of the train split are used for training."""
        return False

    def _before_training(self, samples: TrainingData) -> None:
        """Prepare anything the loss needs (anomaly generators...)."""

    def _extra_state(self) -> dict[str, Any]:
        return {}

    def _load_extra_state(self, state: dict[str, Any]) -> None:
        """Restore what ``_extra_state`` saved."""

    @abstractmethod
    def _build_network(self, config: DeepDetectorConfig) -> nn.Module:
        """Build the (untrained) network from the resolved backbone, input size and channels."""

    @abstractmethod
    def _loss(self, model: nn.Module, batch: dict[str, torch.Tensor], generator: torch.Generator) -> torch.Tensor:
        """Return the scalar training loss of one batch ``{"x", "label", "mask"}``."""

    @abstractmethod
    def _maps_and_scores(self, x: torch.Tensor, want_maps: bool) -> tuple[torch.Tensor | None, torch.Tensor]:
        """Return maps ``(N, 1, *input_size)`` (None unless ``want_maps``) and scores ``(N,)`` of a batch."""


def _auto_backbone(modality: Modality, image_size: int | None) -> str:
    if modality is Modality.VOLUME:
        return "fcdd3d"
    if modality is Modality.CUBE:
        return "spectral"
    if image_size is not None and image_size <= 28:
        return "fcdd28"
    if image_size is None or image_size <= 96:
        return "fcdd32"
    return "fcdd224"


def _hold_out(
    arrays: list[np.ndarray],
    labels: list[int],
    masks: list[np.ndarray | None],
    fraction: float,
    rng: np.random.Generator,
) -> tuple[list[np.ndarray], list[int], list[np.ndarray | None], list[np.ndarray]]:
    """Move ``fraction`` of the normal samples (at least one) out of training into validation."""
    normal = [i for i, label in enumerate(labels) if label == 0]
    if len(normal) < 2:
        raise ConfigError(f"need at least 2 normal samples to hold some out for the threshold; got {len(normal)}")
    n_val = min(len(normal) - 1, max(1, round(fraction * len(normal))))
    val_idx = set(rng.choice(normal, size=n_val, replace=False).tolist())
    keep = [i for i in range(len(arrays)) if i not in val_idx]
    return (
        [arrays[i] for i in keep],
        [labels[i] for i in keep],
        [masks[i] for i in keep],
        [arrays[i] for i in sorted(val_idx)],
    )


def _interpolate(m: torch.Tensor, size: tuple[int, ...]) -> torch.Tensor:
    """Resize one map ``(1, *spatial)`` to ``size`` with (bi/tri)linear interpolation."""
    mode = "trilinear" if len(size) == 3 else "bilinear"
    return torch.nn.functional.interpolate(m[None], size=size, mode=mode, align_corners=False)[0]


def _torch_bytes(obj: Any) -> bytes:
    import io

    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()
