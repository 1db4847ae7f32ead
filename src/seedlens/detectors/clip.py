"""CLIP zero-shot anomaly detection (EOE), explained by patch-to-prompt similarity, and CLIP + Outlier Exposure.

A CLIP model (``transformers.CLIPModel``, from a local folder or a hub name) embeds the image and two text prompts:
the normal one, ``"a photo of a {normal class}."`` (averaged over ``templates``), and the anomalous one,
``"a photo of something."`` (averaged over ``anomaly_prompts``). With ``e`` the normalised image embedding and
``t_normal``, ``t_anomalous`` the normalised text embeddings, the anomaly score is the anomalous probability of

    softmax(temperature * [cos(e, t_normal), cos(e, t_anomalous)])

(Liznerski et al., "Exposing Outlier Exposure", zero-shot CLIP; ``temperature`` 100 is CLIP's logit scale). No
training image is needed. The explanation map compares every patch token of the vision tower with the same two
prompts (the patch tokens go through the tower's final layer norm and projection, as its class token does) and
shows each patch's anomalous probability, upsampled to the input (WinCLIP's patch-to-prompt similarity).

With ``finetune=True`` the image encoder (vision tower and projection; the text embeddings stay fixed) is trained on
the same two-way softmax: normal training samples are class "normal", Outlier Exposure samples class "anomalous"
(CLIP + OE of the EOE paper).

Grey images are repeated to three channels; volumes are scored slice by slice along their first spatial axis (axial
slices), pooled by ``slice_pooling``, and explained by a map per slice. Hyperspectral cubes are refused.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from seedlens.anomaly.outlier_sets import check_outliers_option, recorded_outliers
from seedlens.config import Interval, atomic_write_bytes, validate_config
from seedlens.data.transforms.unit import to_unit_range
from seedlens.detectors._inputs import as_array_list, infer_modality, stack_or_list
from seedlens.detectors.base import DETECTORS, STATE_FILE, ArrayBatch, Detector, check_normalize
from seedlens.errors import ConfigError, ReadError, ShapeError
from seedlens.types import Modality

log = logging.getLogger(__name__)

#: File of the fine-tuned image encoder (vision tower and projection) inside a run folder.
WEIGHTS_FILE = "clip_vision.safetensors"
#: What ``pip install`` adds the optional CLIP dependency.
INSTALL = "pip install 'seedlens[clip]'"
#: CLIP's image normalisation, used when the model folder has no ``preprocessor_config.json``.
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
#: Normal labels that name no class (the default ``normal``, MVTec's ``good``): the prompt class is then ``object``.
GENERIC_LABELS = frozenset({"normal", "good"})
#: Axial slices a volume outlier contributes to Outlier Exposure (evenly spaced over its middle half).
OUTLIER_SLICES = 8


@dataclass
class CLIPDetectorConfig:
    """Options of :class:`CLIPDetector`.

    Attributes:
        clip: The CLIP model: a folder written by ``CLIPModel.save_pretrained`` (with its tokenizer and, optionally,
            ``preprocessor_config.json``) or a hub model name such as ``openai/clip-vit-base-patch32``. Required.
        local_files_only: Load a hub name from the local cache only (never the network). A folder never needs it.
        normal_class: The class named in the normal prompts, e.g. ``healthy rapeseed seed``. None: the data's normal
            label with underscores as spaces, or ``object`` for arrays and for labels that name no class
            (``normal``, ``good``).
        templates: Normal prompt templates; ``{}`` is replaced by ``normal_class`` and the embeddings averaged.
        anomaly_prompts: Anomalous prompts (a ``{}`` in them is replaced by ``normal_class`` too), averaged.
        temperature: Logit scale of the softmax over the cosine similarities (EOE: 100).
        slice_pooling: How the slice scores of a volume become its score: ``max`` or ``mean``.
        batch_size: Images (or slices) per forward pass; during fine-tuning, normal samples per step (as many
            outliers join them).
        device: ``auto``, ``cpu``, ``cuda`` or ``cuda:K``.
        finetune: Fine-tune the image encoder with Outlier Exposure (needs ``outliers`` or ``outliers_where``).
        epochs: Fine-tuning passes over the normal training images (or slices).
        lr: Adam learning rate of the fine-tuning.
        weight_decay: Adam weight decay of the fine-tuning.
        outliers: Outlier Exposure samples for fine-tuning: a file or folder, a list of them, an
            :class:`~seedlens.anomaly.OutlierSet`, or arrays ``(K, C, *spatial)``. Each is mapped to [0, 1] by its
            own range and prepared like the inputs; a volume outlier contributes up to 8 axial slices of its middle
            half. A saved run records their names.
        outliers_where: For data from a hub: an EXPR query whose samples (outside the test split) are outliers.
        outlier_count: A fixed subset of N outliers drawn by ``seed`` (the EOE protocol), or ``all``.
        outlier_augment: ``strong`` (:class:`~seedlens.anomaly.OutlierAugment`: random resized crops, rotations,
            flips, intensity and colour jitter), ``none``, or ``auto`` = ``strong`` for sets of up to
            :data:`~seedlens.anomaly.outlier_exposure.FEW_OUTLIERS` outliers.
        seed: Seed of the fine-tuning (order, outlier draws, augmentation) and of the held-out split.
        threshold_quantile: Quantile of normal validation scores used as the threshold.
        threshold: A fixed threshold instead; without normal validation samples (``fit()`` without data) the
            threshold is 0.5 (the anomalous prompt wins) unless this is given.
        val_fraction: Fraction of the normal training samples held out for the threshold when fine-tuning on data
            without a validation split (zero-shot calibrates on every normal array given).
        heatmap_quantile: Quantile at which heatmaps are clipped for display normalisation.
    """

    clip: str | Path | None = None
    local_files_only: bool = False
    normal_class: str | None = None
    templates: list[str] = field(default_factory=lambda: ["a photo of a {}."])
    anomaly_prompts: list[str] = field(default_factory=lambda: ["a photo of something."])
    temperature: float = 100.0
    slice_pooling: str = "max"
    batch_size: int = 32
    device: str = "auto"
    finetune: bool = False
    epochs: int = 5
    lr: float = 1e-5
    weight_decay: float = 0.0
    outliers: Any = None
    outliers_where: str | None = None
    outlier_count: int | str = "all"
    outlier_augment: str = "auto"
    seed: int = 0
    threshold_quantile: float = 0.95
    threshold: float | None = None
    val_fraction: float = 0.2
    heatmap_quantile: float = 0.97

    CONSTRAINTS: ClassVar[dict[str, Any]] = {
        "clip": (str, Path, None),
        "local_files_only": bool,
        "normal_class": (str, None),
        "templates": (list, tuple),
        "anomaly_prompts": (list, tuple),
        "temperature": Interval(0, None, closed=False),
        "slice_pooling": frozenset({"max", "mean"}),
        "batch_size": Interval(1, None, integer=True),
        "device": str,
        "finetune": bool,
        "epochs": Interval(1, None, integer=True),
        "lr": Interval(0, None, closed=False),
        "weight_decay": Interval(0, None),
        "outliers_where": (str, None),
        "outlier_count": (frozenset({"all"}), Interval(1, None, integer=True)),
        "outlier_augment": frozenset({"auto", "strong", "none"}),
        "seed": Interval(0, None, integer=True),
        "threshold_quantile": Interval(0, 1),
        "threshold": (Interval(), None),
        "val_fraction": Interval(0, 1, closed=False),
        "heatmap_quantile": Interval(0, 1),
    }

    def validate(self) -> None:
        """Check every field; the error names the field, its value and what is allowed.

        Raises:
            ConfigError: a field is invalid, ``clip`` is missing, a template lacks ``{}``, ``finetune`` comes
                without outliers, or outliers come without ``finetune``.
        """
        validate_config(self, self.CONSTRAINTS, where="CLIPDetectorConfig")
        if self.clip is None or not str(self.clip).strip():
            raise ConfigError("the clip detector needs clip=PATH_OR_NAME (--clip): a folder written by "
                              "CLIPModel.save_pretrained, or a hub model name such as 'openai/clip-vit-base-patch32'")
        if self.normal_class is not None and not self.normal_class.strip():
            raise ConfigError("CLIPDetectorConfig: normal_class='' is invalid; expected a class name or None")
        for name in ("templates", "anomaly_prompts"):
            prompts = getattr(self, name)
            if not prompts or not all(isinstance(p, str) and p.strip() for p in prompts):
                raise ConfigError(f"CLIPDetectorConfig: {name}={prompts!r} is invalid; expected a non-empty list of "
                                  "non-empty strings")
        missing = [t for t in self.templates if "{}" not in t]
        if missing:
            raise ConfigError(f"CLIPDetectorConfig: template {missing[0]!r} has no '{{}}' for the normal class; "
                              "expected e.g. 'a photo of a {}.'")
        has_outliers = self.outliers is not None or bool(self.outliers_where)
        if self.finetune and not has_outliers:
            raise ConfigError("finetune=True fine-tunes CLIP with Outlier Exposure and needs outliers: "
                              "outliers=FILES_OR_FOLDERS (--outliers), outlier arrays, or outliers_where=EXPR")
        if has_outliers and not self.finetune:
            raise ConfigError("outliers are only used to fine-tune CLIP: set finetune=True (--finetune), or drop "
                              "them for zero-shot detection")
        check_outliers_option(self.outliers, type(self).__name__)


@DETECTORS.register("clip", summary="CLIP zero-shot prompts, patch-token maps; fine-tuning optional",
                    modalities=("image", "volume"), needs_training=False)
class CLIPDetector(Detector):
    """CLIP zero-shot anomaly detection (optionally fine-tuned with Outlier Exposure); higher = more anomalous.

    Scores are the anomalous prompt's softmax probability, in (0, 1). Works on grey or RGB images
    ``(N, 1 | 3, H, W)`` and volumes ``(N, 1 | 3, D, H, W)`` (slice-wise) of any size and value range. Needs
    ``transformers`` (``pip install 'seedlens[clip]'``).

    Example:
        >>> clip = CLIPDetector(clip="models/clip-vit-b32", normal_class="rapeseed seed").fit(source)
        >>> scores, maps = clip.score_and_explain(images)  # (N,), (N, 1, H, W)

    Args:
        **params: Options of :class:`CLIPDetectorConfig`, stored as given and validated by ``fit``.
    """

    name = "clip"
    Config = CLIPDetectorConfig
    config_: CLIPDetectorConfig
    modality_: Modality | None
    #: The resolved prompt class and the prompts of each side: ``{"normal": [...], "anomalous": [...]}``.
    normal_class_: str
    prompts_: dict[str, list[str]]
    #: Mean fine-tuning loss per epoch (empty for zero-shot).
    history_: list[float]
    #: The Outlier Exposure of a fine-tuning: ``{"outliers": K, "images": drawn from, "augment": strong | none}``.
    exposure_: dict[str, Any]

    @property
    def score_pooling_(self) -> str:
        """How a sample score is formed (recorded by ``seedlens eval``)."""
        return f"anomalous softmax probability (volumes: {self.config_.slice_pooling} over slices)"

    # ------------------------------------------------------------------ fitting
    def fit(self, data: Any = None, y: Any = None, *, run_dir: str | Path | None = None, resume: bool = False,
            progress: bool = True) -> CLIPDetector:
        """Set the prompts, fine-tune the image encoder if asked, and fit the threshold on normal samples.

        Args:
            data: A data source (its normal label names the prompt class; its ``val`` normals set the threshold),
                images ``(N, C, H, W)`` / volumes ``(N, C, D, H, W)`` or a list of such samples, or None
                (zero-shot only: threshold 0.5 unless ``threshold`` is given).
            y: With an array batch, 0 (normal) / 1 (anomalous) per sample: only the normal ones are used.
            run_dir: Unused (a fine-tuned encoder is written by :meth:`save`); accepted for the common protocol.
            resume: Unused.
            progress: Show a progress bar over the fine-tuning steps.

        Raises:
            ConfigError: an option is invalid, the CLIP model cannot be loaded (the message names the reference
                and what is expected), or ``finetune`` comes without normal training samples.
            ShapeError: a sample is a cube, or not grey or RGB.
            ImportError: ``transformers`` is missing (the message names ``seedlens[clip]``).
        """
        config: CLIPDetectorConfig = self.get_config()
        if config.finetune and data is None:
            raise ConfigError("finetune=True needs normal training samples: fit(data)")
        self.config_ = config
        train, calibration, modality, samples = self._split(data, y)
        source = data if hasattr(data, "records") else None
        for array in (*train, *calibration):
            self._check(np.asarray(array))
        self.modality_ = modality
        self.normal_class_ = self._normal_class(source)
        self.prompts_ = {
            "normal": [t.replace("{}", self.normal_class_) for t in config.templates],
            "anomalous": [p.replace("{}", self.normal_class_) for p in config.anomaly_prompts],
        }
        self._build()
        self.history_ = []
        self.exposure_ = {}
        if config.finetune:
            self._finetune(train, self._outliers(samples), progress)
        self._calibrate(calibration)
        return self

    def _split(self, data: Any, y: Any) -> tuple[list[np.ndarray], list[np.ndarray], Modality | None, Any]:
        """Normal training arrays, normal calibration arrays, the modality (None: no data) and the split."""
        from seedlens.detectors._intake import training_data
        from seedlens.detectors._labels import check_some_normal, labelled_arrays

        config = self.config_
        if data is None:
            return [], [], None, None
        source = data if hasattr(data, "records") else None
        if config.finetune or source is not None:
            split = training_data(data, y, modality=None, val_fraction=config.val_fraction, seed=config.seed)
            if split.modality is Modality.CUBE:
                raise ShapeError("the clip detector works on grey or RGB images and volumes; got hyperspectral cubes "
                                 "(use rx or fcdd for cubes)")
            train = split.train.arrays() if config.finetune else []
            return train, split.val_normal.arrays(), split.modality, split
        # zero-shot on arrays: nothing is trained, so every normal sample calibrates
        if y is None:
            arrays = as_array_list(data)
        else:
            given, anomalous = labelled_arrays(data, y)
            check_some_normal(anomalous)
            arrays = [a for a, flag in zip(given, anomalous, strict=True) if not flag]
        if not arrays:
            raise ConfigError("fit needs at least one normal sample (or no data at all for zero-shot); got none")
        return [], arrays, infer_modality(np.asarray(arrays[0])), None

    def _normal_class(self, source: Any) -> str:
        """The configured prompt class, else the source's normal label (underscores as spaces), else ``object``."""
        if self.config_.normal_class is not None:
            return self.config_.normal_class.strip()
        label = getattr(source, "normal_class", None) if source is not None else None
        if not label or str(label).strip().lower() in GENERIC_LABELS:
            return "object"
        return " ".join(str(label).replace("_", " ").split())

    def _build(self, weights: Path | None = None) -> None:
        """Load CLIP, optionally the fine-tuned encoder ``weights``, and embed the prompts on the device."""
        from seedlens.training import select_device

        self.device_ = select_device(self.config_.device)
        reference = str(self.config_.clip)
        loaded = load_clip(reference, local_files_only=self.config_.local_files_only)
        self.config_.clip = reference
        if Path(reference).expanduser().is_dir():  # a run folder must find it from anywhere
            self.config_.clip = str(Path(reference).expanduser().resolve())
        self.mean_ = torch.tensor(loaded.mean, dtype=torch.float32).reshape(1, 3, 1, 1)
        self.std_ = torch.tensor(loaded.std, dtype=torch.float32).reshape(1, 3, 1, 1)
        self.image_size_ = loaded.image_size
        self.grid_ = loaded.image_size // loaded.patch_size
        model = loaded.model.to(self.device_).eval()
        text = torch.stack([
            _class_embedding(model, loaded.tokenizer, self.prompts_["normal"], self.device_),
            _class_embedding(model, loaded.tokenizer, self.prompts_["anomalous"], self.device_),
        ])
        self.scorer_ = CLIPPromptScorer(model.vision_model, model.visual_projection, text, self.config_.temperature)
        if weights is not None:
            self.scorer_.load_encoder(weights)
        self.scorer_.to(self.device_).eval()

    def _check(self, array: np.ndarray) -> None:
        if array.ndim not in (3, 4):
            raise ShapeError(f"the clip detector works on images (C, H, W) or volumes (C, D, H, W); got a sample of "
                             f"shape {tuple(array.shape)}")
        if array.shape[0] not in (1, 3):
            raise ShapeError(f"the clip detector works on grey or RGB samples (1 or 3 channels); got {array.shape[0]} "
                             f"channels in a sample of shape {tuple(array.shape)} (drop an alpha channel; "
                             "hyperspectral cubes: use rx or fcdd)")

    def _calibrate(self, arrays: list[np.ndarray]) -> None:
        """Threshold and heatmap statistics from normal samples (0.5 and the unit range without any)."""
        from seedlens.explain import GlobalNormalizer

        config = self.config_
        if not arrays:
            self.val_scores_ = np.zeros(0)
            self.threshold_ = float(config.threshold) if config.threshold is not None else 0.5
            self.normalizer_ = GlobalNormalizer.from_dict({"low": 0.0, "high": 1.0, "quantile": 1.0})
            return
        scores, maps = self._evaluate(arrays, want_maps=True)
        assert maps is not None
        self.val_scores_ = scores
        self.threshold_ = float(config.threshold) if config.threshold is not None else float(
            np.quantile(scores, config.threshold_quantile))
        self.normalizer_ = GlobalNormalizer().fit(
            np.concatenate([m.reshape(1, 1, -1) for m in maps], axis=2), quantile=config.heatmap_quantile)

    # ------------------------------------------------------------------ preprocessing
    def _pixels(self, unit: Tensor) -> Tensor:
        """Images ``(B, 1 | 3, H, W)`` in [0, 1] to CLIP inputs ``(B, 3, S, S)`` on the device (resized, normalised)."""
        x = unit.to(self.device_, torch.float32)
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        size = (self.image_size_, self.image_size_)
        if tuple(x.shape[2:]) != size:
            x = F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=True)
        return (x - self.mean_.to(x.device)) / self.std_.to(x.device)

    # ------------------------------------------------------------------ inference
    @torch.no_grad()
    def _forward(self, unit: Tensor, want_maps: bool) -> tuple[np.ndarray, np.ndarray | None]:
        """Anomalous probabilities ``(B,)`` and maps ``(B, H, W)`` of unit-range images ``(B, C, H, W)``."""
        scores, maps = [], []
        height, width = int(unit.shape[2]), int(unit.shape[3])
        for start in range(0, unit.shape[0], self.config_.batch_size):
            logits, patches = self.scorer_(self._pixels(unit[start:start + self.config_.batch_size]),
                                           want_patches=want_maps)
            scores.append(logits.float().softmax(dim=1)[:, 1].cpu())
            if want_maps:
                assert patches is not None
                grid = patches.float().softmax(dim=2)[:, :, 1].reshape(-1, 1, self.grid_, self.grid_)
                full = F.interpolate(grid, size=(height, width), mode="bilinear", align_corners=False)
                maps.append(full[:, 0].cpu())
        score = torch.cat(scores).numpy().astype(np.float64)
        return score, (torch.cat(maps).numpy().astype(np.float32) if want_maps else None)

    def _evaluate(self, arrays: list[np.ndarray], want_maps: bool) -> tuple[np.ndarray, list[np.ndarray] | None]:
        """Scores ``(N,)`` and, if wanted, raw maps ``(1, *spatial)`` at each input's resolution."""
        scores = np.zeros(len(arrays))
        maps: list[np.ndarray | None] = [None] * len(arrays)
        images = [i for i, a in enumerate(arrays) if np.ndim(a) == 3]
        for i in (i for i, a in enumerate(arrays) if np.ndim(a) == 4):  # volumes: slices along D
            volume = to_unit_range(np.asarray(arrays[i])[None])[0]
            slice_scores, slice_maps = self._forward(volume.permute(1, 0, 2, 3), want_maps)
            pool = np.max if self.config_.slice_pooling == "max" else np.mean
            scores[i] = float(pool(slice_scores))
            if slice_maps is not None:
                maps[i] = slice_maps[None]
        for start in range(0, len(images), self.config_.batch_size):  # images: batched by shape and type
            chunk = images[start:start + self.config_.batch_size]
            groups: dict[tuple[Any, ...], list[int]] = {}
            for i in chunk:
                array = np.asarray(arrays[i])
                groups.setdefault((array.shape, array.dtype.str), []).append(i)
            for members in groups.values():
                batch_scores, batch_maps = self._forward(to_unit_range(np.stack([arrays[i] for i in members])),
                                                         want_maps)
                scores[members] = batch_scores
                if batch_maps is not None:
                    for k, i in enumerate(members):
                        maps[i] = batch_maps[k][None]
        return scores, ([m for m in maps if m is not None] if want_maps else None)

    def _inputs(self, x: ArrayBatch) -> list[np.ndarray]:
        self._check_fitted()
        arrays = as_array_list(x)
        for array in arrays:
            self._check(np.asarray(array))
            fitted = self.modality_
            if fitted is not None and np.ndim(array) - 1 != fitted.spatial_dims:
                layout = "(C, D, H, W)" if fitted is Modality.VOLUME else "(C, H, W)"
                raise ShapeError(f"this clip detector was fitted on {fitted.value}s {layout}; got a sample of shape "
                                 f"{tuple(np.shape(array))}")
        return arrays

    def score(self, x: ArrayBatch, spacing: Any = None) -> np.ndarray:
        """Return anomaly scores ``(N,)`` in (0, 1): the anomalous prompt's softmax probability.

        Args:
            x: Images ``(N, C, H, W)``, volumes ``(N, C, D, H, W)`` (C = 1 or 3) or a list of ``(C, *spatial)``
                samples of any size and value range.
            spacing: Not used: CLIP works on the pixel grid.

        Raises:
            NotFittedError: before ``fit`` or ``load``.
            ShapeError: a sample is not a grey or RGB image or volume.
        """
        return self._evaluate(self._inputs(x), want_maps=False)[0]

    def explain(
        self, x: ArrayBatch, normalize: str | None = None, spacing: Any = None
    ) -> np.ndarray | list[np.ndarray]:
        """Return each patch's anomalous probability, upsampled to the input: ``(N, 1, *spatial)``.

        Images give ``(N, 1, H, W)``, volumes ``(N, 1, D, H, W)`` (one map per axial slice); a list when the
        samples' sizes differ. ``normalize``: None (probabilities), ``local`` or ``global``.
        """
        return self.score_and_explain(x, normalize)[1]

    def score_and_explain(
        self, x: ArrayBatch, normalize: str | None = None, spacing: Any = None
    ) -> tuple[np.ndarray, np.ndarray | list[np.ndarray]]:
        """Return scores ``(N,)`` and maps (see :meth:`explain`) from one pass."""
        check_normalize(normalize)
        scores, maps = self._evaluate(self._inputs(x), want_maps=True)
        assert maps is not None
        return scores, stack_or_list(self._normalized(maps, normalize))

    # ------------------------------------------------------------------ fine-tuning
    def _outliers(self, samples: Any) -> Any:
        """The outlier set of the configuration (a fixed subset, never test samples); the run records its names."""
        from seedlens.detectors.exposure import ExposureConfig, outlier_set

        config = self.config_
        wanted = ExposureConfig(outliers=config.outliers, outliers_where=config.outliers_where,
                                outlier_count=config.outlier_count, seed=config.seed)
        outliers = outlier_set(wanted, samples)
        config.outliers = recorded_outliers(config.outliers, outliers)
        log.info("CLIP fine-tuning with %d outlier(s)", len(outliers))
        return outliers

    def _prepare_outlier(self, array: np.ndarray, spacing: Any = None) -> np.ndarray:
        """One outlier image ``(C, H, W)`` to a CLIP input ``(3, S, S)`` (its own range mapped to [0, 1])."""
        image = np.asarray(array)
        if image.ndim != 3:
            raise ShapeError(f"an outlier for images must be an image (C, H, W); got shape {tuple(image.shape)}")
        if image.shape[0] == 4:  # RGBA pictures: the alpha channel is dropped
            image = image[:3]
        self._check(image)
        return self._pixels(to_unit_range(image[None]))[0].cpu().numpy()

    def _outlier_images(self, outliers: Any) -> Any:
        """For volume data: each outlier volume as up to 8 axial slices of its middle half (its range to [0, 1])."""
        from seedlens.anomaly import OutlierSet

        if self.modality_ is not Modality.VOLUME:
            return outliers
        slices: list[np.ndarray] = []
        for index in range(len(outliers)):
            array = np.asarray(outliers.load(index).array)
            if array.ndim != 4:
                slices.append(array)
                continue
            volume = to_unit_range(array[None])[0].numpy()
            depth = volume.shape[1]
            picks = np.linspace(depth // 4, max(depth // 4, (3 * depth) // 4 - 1), num=min(OUTLIER_SLICES, depth))
            slices.extend(volume[:, d] for d in np.unique(picks.round().astype(int)))
        return OutlierSet.from_arrays(slices, Modality.IMAGE)

    def _finetune(self, arrays: list[np.ndarray], outliers: Any, progress: bool) -> None:
        """Train the image encoder on normals (class 0) against outliers (class 1) with cross-entropy and Adam."""
        from rich.progress import track

        from seedlens.anomaly import OutlierAugment, OutlierExposure
        from seedlens.anomaly.outlier_exposure import strong_augmentation

        config = self.config_
        images = self._outlier_images(outliers)
        strong = strong_augmentation(config.outlier_augment, len(outliers))
        exposure = OutlierExposure(images, self._prepare_outlier, (self.image_size_, self.image_size_),
                                   augment=OutlierAugment() if strong else None)
        self.exposure_ = {"outliers": len(outliers), "images": len(images), "augment": "strong" if strong else "none"}
        views = [to_unit_range(np.asarray(a)[None])[0] for a in arrays]  # (C, *spatial) in [0, 1]
        items = [(i, d) for i, v in enumerate(views) for d in (range(v.shape[1]) if v.ndim == 4 else [None])]
        torch.manual_seed(config.seed)
        generator = torch.Generator().manual_seed(config.seed)
        optimizer = torch.optim.Adam(self.scorer_.encoder_parameters(), lr=config.lr,
                                     weight_decay=config.weight_decay)
        self.scorer_.train()
        for _ in track(range(config.epochs), description="fine-tuning CLIP", disable=not progress, transient=True):
            order = torch.randperm(len(items), generator=generator).tolist()
            losses = []
            for start in range(0, len(items), config.batch_size):
                chosen = [items[k] for k in order[start:start + config.batch_size]]
                normal = torch.cat([self._pixels((views[i] if d is None else views[i][:, d])[None]).cpu()
                                    for i, d in chosen])
                outlier, _ = exposure.batch(normal, generator)
                x = torch.cat([normal, outlier]).to(self.device_)
                target = torch.cat([torch.zeros(len(normal)), torch.ones(len(outlier))]).long().to(self.device_)
                logits, _ = self.scorer_(x, want_patches=False)
                loss = F.cross_entropy(logits.float(), target)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                losses.append(float(loss.detach()))
            self.history_.append(float(np.mean(losses)))
        self.scorer_.eval()

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | Path) -> Path:
        """Write the config (with the CLIP reference), prompts, threshold, heatmap statistics and a fine-tuned encoder.

        A fine-tuned image encoder goes to ``clip_vision.safetensors``; the base model stays where ``clip`` names it.
        """
        folder = self._start_saving(path)
        if self.config_.finetune:
            atomic_write_bytes(folder / WEIGHTS_FILE, self.scorer_.encoder_bytes())
        state = {
            "modality": self.modality_.value if self.modality_ is not None else None,
            "normal_class": self.normal_class_, "prompts": self.prompts_,
            "threshold": self.threshold_, "val_scores": self.val_scores_.tolist(),
            "normalizer": self.normalizer_.to_dict(), "history": self.history_, "finetuned": self.config_.finetune,
            "exposure": self.exposure_,
        }
        atomic_write_bytes(folder / STATE_FILE, json.dumps(state).encode())
        return folder

    @classmethod
    def load(cls, path: str | Path, device: str = "auto") -> CLIPDetector:
        """Rebuild a fitted detector from a folder written by :meth:`save` on ``device``.

        The base CLIP model is loaded from the recorded reference (a folder needs no network); a fine-tuned image
        encoder from the run folder.

        Raises:
            ReadError: a file of the folder is missing.
            ConfigError: the folder holds another detector, or the CLIP reference cannot be loaded.
        """
        from seedlens.explain import GlobalNormalizer

        folder, params, state = cls._read_saved(path)
        weights = folder / WEIGHTS_FILE if state.get("finetuned") else None
        if weights is not None and not weights.is_file():
            raise ReadError(weights, "missing: the fine-tuned CLIP image encoder of this run folder")
        detector = cls(**{**params, "device": device})
        detector.config_ = detector.get_config()
        detector.modality_ = Modality.parse(state["modality"]) if state.get("modality") else None
        detector.normal_class_ = str(state["normal_class"])
        detector.prompts_ = {k: [str(p) for p in v] for k, v in state["prompts"].items()}
        detector._build(weights)
        detector.history_ = [float(v) for v in state["history"]]
        detector.exposure_ = dict(state.get("exposure", {}))
        detector.val_scores_ = np.asarray(state["val_scores"], dtype=np.float64)
        detector.normalizer_ = GlobalNormalizer.from_dict(state["normalizer"])
        detector.threshold_ = float(state["threshold"])
        return detector


class CLIPPromptScorer(nn.Module):
    """CLIP's image encoder against two fixed prompt embeddings: image and patch logits of (normal, anomalous).

    Args:
        vision: The vision tower (``CLIPModel.vision_model``): ``pixel_values`` ``(N, 3, S, S)`` to a last hidden
            state ``(N, 1 + P, W)`` (class token first) and a pooled, layer-normed class token ``(N, W)``.
        projection: ``CLIPModel.visual_projection``, ``(…, W) -> (…, E)``.
        text: Normalised text embeddings ``(2, E)``: the normal class, then the anomalous one.
        temperature: Logit scale of the cosine similarities.
    """

    text: Tensor

    def __init__(self, vision: nn.Module, projection: nn.Module, text: Tensor, temperature: float) -> None:
        super().__init__()
        self.vision = vision
        self.projection = projection
        self.register_buffer("text", text.detach().clone())
        self.temperature = float(temperature)

    def forward(self, pixels: Tensor, want_patches: bool = True) -> tuple[Tensor, Tensor | None]:
        """Return image logits ``(N, 2)`` and, if wanted, patch logits ``(N, P, 2)`` (P patch tokens, row-major).

        Args:
            pixels: CLIP-normalised images ``(N, 3, S, S)``.
            want_patches: Compute the patch logits too.
        """
        out = self.vision(pixel_values=pixels)
        text = self.text
        image = F.normalize(self.projection(out.pooler_output), dim=-1)
        logits = self.temperature * image @ text.T
        if not want_patches:
            return logits, None
        norm: Any = self.vision.post_layernorm
        tokens = norm(out.last_hidden_state[:, 1:])
        patches = F.normalize(self.projection(tokens), dim=-1)
        return logits, self.temperature * patches @ text.T

    def encoder_parameters(self) -> list[nn.Parameter]:
        """The trainable parameters: vision tower and projection (the text embeddings are a fixed buffer)."""
        return [*self.vision.parameters(), *self.projection.parameters()]

    def encoder_bytes(self) -> bytes:
        """The image encoder's weights as safetensors bytes (keys ``vision.*`` and ``projection.*``)."""
        from safetensors.torch import save

        tensors = {f"vision.{k}": v.detach().cpu().contiguous() for k, v in self.vision.state_dict().items()}
        tensors.update({f"projection.{k}": v.detach().cpu().contiguous()
                        for k, v in self.projection.state_dict().items()})
        return bytes(save(tensors))

    def load_encoder(self, path: Path) -> None:
        """Load image-encoder weights written by :meth:`encoder_bytes`.

        Raises:
            ReadError: the file is unreadable or does not fit this CLIP model.
        """
        from safetensors.torch import load

        try:
            tensors = load(path.read_bytes())
            vision = {k.removeprefix("vision."): v for k, v in tensors.items() if k.startswith("vision.")}
            projection = {k.removeprefix("projection."): v for k, v in tensors.items() if k.startswith("projection.")}
            self.vision.load_state_dict(vision, strict=True)
            self.projection.load_state_dict(projection, strict=True)
        except (OSError, RuntimeError, ValueError) as error:
            raise ReadError(path, f"not the fine-tuned image encoder of this CLIP model: {error}") from error


@dataclass
class LoadedCLIP:
    """A CLIP model with its tokenizer and image normalisation, as :func:`load_clip` returns it."""

    model: Any
    tokenizer: Any
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    image_size: int
    patch_size: int


def load_clip(reference: str, local_files_only: bool = False) -> LoadedCLIP:
    """Load a CLIP model, its tokenizer and its image mean / std from a folder or a hub name.

    Args:
        reference: A folder written by ``save_pretrained`` (``config.json``, the weights, the tokenizer files and,
            optionally, ``preprocessor_config.json``; without it CLIP's own mean and std are used) or a hub name.
        local_files_only: Never reach the network for a hub name (use the local cache).

    Returns:
        The model (in eval mode), tokenizer, normalisation and the vision tower's image and patch sizes.

    Raises:
        ImportError: ``transformers`` is not installed (the message says ``pip install 'seedlens[clip]'``).
        ConfigError: the folder does not exist or is not a CLIP model folder, or the model cannot be loaded;
            the message names the reference and what is expected.
    """
    try:
        from transformers import AutoTokenizer, CLIPModel
    except ImportError as error:
        raise ImportError(f"the clip detector needs the optional transformers package: {INSTALL}") from error

    expected = ("a folder written by CLIPModel.save_pretrained (config.json, model.safetensors, the tokenizer files, "
                "preprocessor_config.json) or a hub model name such as 'openai/clip-vit-base-patch32'")
    path = Path(reference).expanduser()
    local = path.exists()
    if local and not (path / "config.json").is_file():
        raise ConfigError(f"clip={reference!r}: {path} is not a CLIP model folder (no config.json); expected "
                          f"{expected}")
    if not local and _looks_like_path(reference):
        raise ConfigError(f"clip={reference!r}: the folder {path} does not exist; expected {expected}")
    where = str(path) if local else reference
    offline = local or local_files_only
    try:
        with _quiet_loading():
            model = CLIPModel.from_pretrained(where, local_files_only=offline)
            tokenizer = AutoTokenizer.from_pretrained(where, local_files_only=offline)
    except (OSError, ValueError, KeyError, TypeError) as error:
        problem = "could not load a CLIP model and its tokenizer from the folder" if local else (
            "no such folder, and no CLIP model of that hub name could be loaded")
        raise ConfigError(f"clip={reference!r}: {problem} ({type(error).__name__}: {error}); expected "
                          f"{expected}") from error
    if not isinstance(model, CLIPModel) or getattr(model.config, "model_type", "clip") != "clip":
        raise ConfigError(f"clip={reference!r}: holds a {getattr(model.config, 'model_type', '?')!r} model, not "
                          f"CLIP; expected {expected}")
    mean, std = _normalisation(where, offline)
    vision: Any = model.config.vision_config
    return LoadedCLIP(model.eval(), tokenizer, mean, std, int(vision.image_size), int(vision.patch_size))


def _normalisation(where: str, offline: bool) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
    """The image processor's mean and std (CLIP's own when the folder has no image processor config)."""
    from transformers.image_processing_base import ImageProcessingMixin

    try:
        settings, _ = ImageProcessingMixin.get_image_processor_dict(where, local_files_only=offline)
    except (OSError, ValueError) as error:
        log.info("%s: no image processor config (%s); using CLIP's mean and std", where, error)
        return CLIP_MEAN, CLIP_STD

    def three(values: Any, default: tuple[float, float, float]) -> tuple[float, float, float]:
        if values is None:
            return default
        items = [float(v) for v in (values if isinstance(values, (list, tuple)) else [values])]
        items = items * 3 if len(items) == 1 else items
        if len(items) != 3:
            raise ConfigError(f"{where}: image_mean / image_std must hold 1 or 3 values; got {values!r}")
        return items[0], items[1], items[2]

    return three(settings.get("image_mean"), CLIP_MEAN), three(settings.get("image_std"), CLIP_STD)


@contextlib.contextmanager
def _quiet_loading() -> Iterator[None]:
    """Without transformers' per-load progress bar (``seedlens score`` prints JSON lines), restored afterwards."""
    from transformers.utils import logging as hf_logging

    shown = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if shown:
            hf_logging.enable_progress_bar()


def _looks_like_path(reference: str) -> bool:
    """Whether a reference that does not exist was meant as a folder rather than a hub name (``org/name``)."""
    path = Path(reference).expanduser()
    return (path.is_absolute() or reference.startswith((".", "~")) or "\\" in reference
            or reference.count("/") > 1 or (reference.count("/") == 1 and path.parent.is_dir()))


@torch.no_grad()
def _class_embedding(model: Any, tokenizer: Any, prompts: list[str], device: torch.device) -> Tensor:
    """The normalised mean of the normalised text embeddings of ``prompts``: ``(E,)``."""
    limit = int(model.config.text_config.max_position_embeddings)
    tokens = tokenizer(prompts, padding=True, truncation=True, max_length=limit, return_tensors="pt")
    out = model.text_model(input_ids=tokens["input_ids"].to(device),
                           attention_mask=tokens["attention_mask"].to(device))
    embeddings = F.normalize(model.text_projection(out.pooler_output), dim=-1)
    return F.normalize(embeddings.mean(dim=0), dim=0)


def write_random_clip(folder: str | Path, words: list[str] | None = None, image_size: int = 32, patch_size: int = 8,
                      width: int = 32, seed: int = 0) -> Path:
    """Write a tiny, randomly initialised CLIP model folder (tests and demos; it has learned nothing).

    The folder holds what a real CLIP folder holds — ``config.json`` and weights, a byte-level BPE tokenizer
    (trained on ``words`` with CLIP's own text pipeline, so it loads back identically) and an image processor
    config — and loads through :func:`load_clip` like a downloaded model, offline.

    Args:
        folder: Where to write it (created).
        words: Texts the tokenizer is trained on; None: the default prompts and a few object names.
        image_size: Side of the vision tower's input.
        patch_size: Side of its patches (``image_size`` must be a multiple).
        width: Hidden size of both towers (2 layers, 2 heads).
        seed: Seed of the random weights.

    Returns:
        The folder.

    Raises:
        ImportError: ``transformers`` is not installed (the message names ``seedlens[clip]``).
        ConfigError: ``image_size`` is not a multiple of ``patch_size``.
    """
    try:
        import transformers
        from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers
        from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel
    except ImportError as error:
        raise ImportError(f"writing a CLIP folder needs the optional transformers package: {INSTALL}") from error
    if image_size % patch_size:
        raise ConfigError(f"image_size={image_size} must be a multiple of patch_size={patch_size}")
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    start, end = "<|startoftext|>", "<|endoftext|>"
    texts = words or ["a photo of a {}.", "a photo of something.", "object", "seed", "healthy rapeseed seed",
                      "damaged", "normal", "cat", "dog", "car"]
    vocab, merges = _word_vocabulary(texts, pre_tokenizers.ByteLevel.alphabet(), (start, end))
    bpe = Tokenizer(models.BPE(vocab=vocab, merges=merges, unk_token=end, continuing_subword_prefix="",
                               end_of_word_suffix="</w>", fuse_unk=False))
    bpe.normalizer = normalizers.Sequence([normalizers.NFC(), normalizers.Replace(Regex(r"\s+"), " "),
                                           normalizers.Lowercase()])
    bpe.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(r"""<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]"""
                                   r"""|[^\s\p{L}\p{N}]+"""), behavior="removed", invert=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False),
    ])
    bpe.decoder = decoders.ByteLevel()
    fast = getattr(transformers, "CLIPTokenizerFast", None) or transformers.CLIPTokenizer  # v5: one class
    tokenizer = fast(tokenizer_object=bpe, bos_token=start, eos_token=end, unk_token=end, pad_token=end)
    begin, stop = bpe.token_to_id(start), bpe.token_to_id(end)
    text = {"vocab_size": bpe.get_vocab_size(), "hidden_size": width, "intermediate_size": 2 * width,
            "num_hidden_layers": 2, "num_attention_heads": 2, "max_position_embeddings": 32,
            "bos_token_id": begin, "eos_token_id": stop, "pad_token_id": stop}
    vision = {"hidden_size": width, "intermediate_size": 2 * width, "num_hidden_layers": 2, "num_attention_heads": 2,
              "image_size": image_size, "patch_size": patch_size}
    torch.manual_seed(seed)
    model = CLIPModel(CLIPConfig(text_config=text, vision_config=vision, projection_dim=width // 2))
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    CLIPImageProcessor(size={"shortest_edge": image_size},
                       crop_size={"height": image_size, "width": image_size}).save_pretrained(out)
    return out


def _word_vocabulary(texts: list[str], alphabet: list[str], special: tuple[str, str]
                     ) -> tuple[dict[str, int], list[tuple[str, str]]]:
    """A byte-level BPE vocabulary and merges in which every lower-case word of ``texts`` is one token.

    Built, not trained (the BPE trainer breaks ties differently from run to run): the special tokens, every byte
    symbol alone and word-final, then for each word the merges that join its symbols left to right.
    """
    import re

    symbols = sorted(alphabet)
    tokens = [*special, *symbols, *(f"{c}</w>" for c in symbols)]
    merges: list[tuple[str, str]] = []
    for word in sorted({w for text in texts for w in re.findall(r"[a-z]+", text.lower()) if len(w) > 1}):
        for k in range(1, len(word)):
            last = k == len(word) - 1
            pair = (word[:k], word[k] + "</w>" if last else word[k])
            if pair not in merges:
                merges.append(pair)
                tokens.append(word[:k + 1] + ("</w>" if last else ""))
    vocab: dict[str, int] = {}
    for token in tokens:
        vocab.setdefault(token, len(vocab))
    return vocab, merges
