"""What every deep detector shares: intake, planning, preprocessing, patch training, calibration, inference, saving.

Inference runs by sliding windows at native resolution.

A subclass supplies the network it trains (``_build_network``), the training loss of one batch (``_loss``) and its
scoring: a :class:`~seedlens.inference.ScoringModule` (``_scoring_module``: network, anomaly map, upsampler and
pooling as one module), or, for maps that need more than a forward pass (HSC's input gradients), its own
``_dense_windows``. The rest is here once, in the order ``fit`` runs it:

1. intake (:mod:`seedlens.detectors._intake`): the training and held-out normal samples, read lazily;
2. plan (:mod:`seedlens.detectors._plan`): backbone, voxel size, intensity rule, patch and window sizes;
3. preprocessing (:class:`~seedlens.data.patches.PreprocessedCache`): every training sample read once, put on the
   detector's grid and written to a folder of memory maps, the intensity rule fitted on the way;
4. training on random patches (:class:`~seedlens.data.patches.PatchDataset`) with the shared training loop
   (``torchrun`` included);
5. calibration (:mod:`seedlens.detectors._calibration`) on held-out normals scored like any new scan;
6. inference: each scan preprocessed, scored by sliding windows (:mod:`seedlens.inference.sliding_window`) and its
   heatmap brought back to the scan's own grid.
"""

from __future__ import annotations

import itertools
import json
import logging
import math
import numbers
import shutil
import tempfile
import warnings
from abc import abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from seedlens.config import atomic_write_bytes
from seedlens.detectors import _calibration
from seedlens.detectors import _plan as planning
from seedlens.detectors._inputs import as_array_list, stack_or_list
from seedlens.detectors._intake import TrainingData, training_data
from seedlens.detectors.base import STATE_FILE, ArrayBatch, Detector, check_normalize
from seedlens.detectors.config import DeepDetectorConfig, training_budget
from seedlens.errors import ConfigError, ShapeError
from seedlens.types import Modality

__all__ = ["DeepDetector", "TrainingData"]

log = logging.getLogger(__name__)

#: File names inside a saved detector folder.
WEIGHTS_FILE = "weights.pt"
#: Folder of a run that holds the preprocessed training samples while the detector trains.
CACHE_FOLDER = ".preprocessed"

#: What ``spacing=`` accepts on ``score`` / ``explain``: one voxel size for every sample, or one per sample.
Spacing = Sequence[float] | Sequence[Sequence[float] | None] | None


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
    #: What the detector decided about its inputs (:func:`seedlens.detectors._plan.describe`).
    plan_: dict[str, Any]

    def get_config(self) -> DeepDetectorConfig:
        """Return the validated config built from the constructor's parameters."""
        config: DeepDetectorConfig = super().get_config()
        return config

    # ------------------------------------------------------------------ fitting
    def fit(
        self,
        data: Any,
        y: Any = None,
        *,
        run_dir: str | Path | None = None,
        resume: bool = False,
        progress: bool = True,
        spacing: Any = None,
    ) -> DeepDetector:
        """Train on normal data (plus synthetic or given anomalies), then fit the threshold.

        Samples are read when needed: each training sample once (to preprocess it into a folder of memory maps),
        then patches of it per step; held-out normals one at a time. Under ``torchrun`` every process trains on
        its share of the patches and scores its share of the held-out normals; the first process preprocesses.

        Args:
            data: A data source (``seedlens.data.open_source(...)``, a hub source...) whose ``train`` split is
                used for training and whose normal ``val`` samples set the threshold; or samples as a batch array
                ``(N, C, *spatial)`` / a sequence of ``(C, *spatial)`` arrays, of which ``val_fraction`` is held
                out for the threshold.
            y: For arrays, 0 (normal) / 1 (anomalous) per sample, as scikit-learn's ``fit(X, y)``; anomalous
                samples are dropped unless the detector learns from labelled anomalies. None: all normal.
            run_dir: Folder for the per-epoch checkpoint, the training config and (while training) the
                preprocessed samples; needed for ``resume``.
            resume: Continue an interrupted training from ``run_dir``'s checkpoint.
            progress: Show progress bars.
            spacing: For arrays: their voxel size (one value per spatial axis, the same for every sample); None:
                unknown (isotropic). Files and hub samples carry their own.

        Returns:
            self, fitted.

        Raises:
            ConfigError: an option is invalid.
            DataSourceError: the data has no normal training samples.
        """
        from seedlens.training import select_device
        from seedlens.training.distributed import dist_from_env, process_group

        config = self.get_config()
        info = dist_from_env()
        device = select_device(config.device, info.local_rank)
        self._progress = progress
        with process_group(info, device):
            samples = training_data(data, y, modality=config.modality, val_fraction=config.val_fraction,
                                    seed=config.seed, labelled=self._uses_labelled(), spacing=spacing)
            self.config_ = config
            self.modality_ = samples.modality
            self._before_preprocessing(samples)
            plan, template = self._plan(config, samples)
            with self._cache_folder(run_dir, info, device) as folder:
                cache = self._preprocess(samples, template, folder, info, device, progress)
                self.preprocessor_ = cache.preprocessor
                self.input_multiple_ = multiple = self._multiple(config)
                self.input_size_ = planning.patch_size(config, [e.shape for e in cache.entries], multiple,
                                                    plan.image_size, plan.spacing)
                torch.manual_seed(config.seed)
                network = self._build_network(config)
                if config.freeze_stages:
                    _backbone_of(network, "freeze_stages").freeze_stages(config.freeze_stages)
                self.network_ = _placed(network, device, config)
                self.window_size_ = (planning.window_size(config, self.input_size_, multiple, self._smallest_window())
                                     if self._cells else self.input_size_)  # dense maps slide the training patch
                self.plan_ = planning.describe(plan, self.input_size_, self.window_size_)
                self._train(cache, samples, config, device, run_dir, resume, progress)
                self.network_.eval()
            self._calibrate(samples.val_normal, config, info)
        return self

    def _plan(self, config: DeepDetectorConfig, samples: TrainingData) -> tuple[planning.Plan, Any]:
        """Resolve backbone, whole-sample size, voxel size, intensity rule and pooling; set the fitted names.

        Returns the plan and the (unfitted) preprocessor it implies.
        """
        from seedlens.data.transforms import Preprocessor

        modality = samples.modality
        first = samples.first().array
        if first.ndim != modality.spatial_dims + 1:
            layout = {2: "(C, H, W)", 3: "(C, D, H, W)"}[modality.spatial_dims]
            raise ShapeError(f"{modality.value} samples must be {layout}; got shape {tuple(first.shape)}")
        backbone = config.backbone if config.backbone != "auto" else planning.auto_backbone(modality, config.image_size)
        size = planning.whole_sample_size(config, modality, backbone)
        spacing, unknown = planning.target_spacing(config, modality, samples.train)
        if spacing is not None and unknown:
            log.warning("%d of %d training samples have no voxel size: treated as isotropic at %s", unknown,
                        len(samples.train), min(spacing))
        intensity = planning.AUTO_INTENSITY[modality] if config.intensity == "auto" else config.intensity
        if intensity == "window" and config.window is None:
            raise ConfigError("intensity='window' needs window=(level, width), e.g. (-600, 1500) for lung CT")
        self.backbone_name_ = backbone
        self.in_channels_ = int(first.shape[0])
        self.score_pooling_ = planning.auto_pooling(config, modality)
        template = Preprocessor(
            size=(size,) * modality.spatial_dims if size is not None else None,
            channels=self.in_channels_,
            intensity=intensity,
            window=(float(config.window[0]), float(config.window[1])) if config.window is not None else None,
            spacing=spacing,
            keep_aspect=True,
        )
        return planning.Plan(backbone, size, spacing, intensity, self.score_pooling_, unknown), template

    @contextmanager
    def _cache_folder(self, run_dir: str | Path | None, info: Any, device: torch.device) -> Iterator[Path]:
        """The folder of the preprocessed training samples: in the run folder, or a temporary one; removed after."""
        from seedlens.training.distributed import barrier, broadcast_object

        if run_dir is not None:
            folder = Path(run_dir) / CACHE_FOLDER
        else:
            created = tempfile.mkdtemp(prefix="seedlens-preprocessed-") if info.is_main else None
            folder = Path(broadcast_object(created, info))
        try:
            yield folder
        finally:
            barrier(info, device)
            if info.is_main:
                shutil.rmtree(folder, ignore_errors=True)

    def _preprocess(self, samples: TrainingData, template: Any, folder: Path, info: Any, device: torch.device,
                    progress: bool) -> Any:
        """Fit the preprocessing and write the preprocessed training samples (the first process only).

        The other processes wait for the first one's outcome: if it failed, they stop too (with its message).
        """
        from seedlens.data.patches import PreprocessedCache
        from seedlens.errors import DataSourceError
        from seedlens.training.distributed import broadcast_object

        failure: str | None = None
        if info.is_main:
            try:
                with _progress_bar(progress and len(samples.train) > 1, "preprocessing") as update:
                    PreprocessedCache.build(samples.train, template, folder, seed=self.config_.seed,
                                            progress=update)
            except BaseException as error:
                broadcast_object(f"{type(error).__name__}: {error}", info)
                raise
        failure = broadcast_object(failure, info)
        if failure is not None:
            raise DataSourceError(f"the first process could not preprocess the training samples: {failure}")
        return PreprocessedCache(folder)

    def _train(self, cache: Any, samples: TrainingData, config: DeepDetectorConfig, device: torch.device,
               run_dir: str | Path | None, resume: bool, progress: bool) -> None:
        """Train the network on random patches of the preprocessed samples."""
        from seedlens.data.patches import PatchDataset
        from seedlens.training import TrainConfig, train
        from seedlens.training.distributed import broadcast_buffers, dist_from_env

        dataset = PatchDataset(cache, self.input_size_, seed=config.seed)
        epochs, repeats = training_budget(config.epochs, len(dataset), config.batch_size)
        train_config = TrainConfig(
            epochs=epochs,
            dataset_repeats=repeats,
            batch_size=config.batch_size,
            optimizer=config.optimizer,
            lr=config.lr,
            backbone_lr=config.backbone_lr,
            weight_decay=config.weight_decay,
            lr_decay=config.lr_decay,
            amp=config.amp,
            device=str(device),
            seed=config.seed,
            num_workers=config.num_workers,
            hold_data=config.hold_data,
        )
        self._before_training(samples, cache)
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
            "data_wait_share": result.data_wait_share,
            "device": result.device,
            "precision": result.precision,
            "world_size": result.world_size,
        }
        self.budget_ = {"epochs": epochs, "samples_per_epoch": len(dataset) * repeats}
        # DDP synchronises buffers (BatchNorm statistics) before each step, not after the last: every process scores
        # its share of the held-out normals with the first process's network, the one that is saved
        broadcast_buffers(self.network_, dist_from_env())

    def _calibrate(self, val_normal: Any, config: DeepDetectorConfig, info: Any) -> None:
        """Fit the threshold and the global heatmap normaliser on held-out normal samples, each process its share."""
        from seedlens.training.distributed import all_gather_object

        mine = list(range(info.rank, len(val_normal), info.world_size))
        shard = val_normal.subset(mine)
        scores, values = [], []
        for score, heat in self._stream(shard, want_maps=True, restore=False):
            scores.append(float(score))
            assert heat is not None
            values.append(_calibration.map_values(heat))
        gathered = all_gather_object((mine, scores, values), info)
        order = sorted((i, s, v) for indices, ss, vs in gathered for i, s, v in zip(indices, ss, vs, strict=True))
        self.val_scores_ = np.asarray([s for _, s, _ in order], dtype=np.float64)
        self.threshold_ = _calibration.threshold(self.val_scores_, config)
        self.normalizer_ = _calibration.normalizer([v for _, _, v in order], config.heatmap_quantile)

    # ------------------------------------------------------------------ inference
    def score(self, x: ArrayBatch, spacing: Spacing = None) -> np.ndarray:
        """Return anomaly scores ``(N,)`` of raw samples (higher = more anomalous).

        Args:
            x: A batch ``(N, C, *spatial)`` or a sequence of ``(C, *spatial)`` arrays of any size, as read from
                files; the detector applies its own preprocessing and scores large inputs by sliding windows.
            spacing: The samples' voxel size (one per spatial axis, for every sample, or a list with one entry —
                possibly None — per sample), used when the detector resamples; None: unknown (isotropic).
        """
        return self._run(x, spacing, want_maps=False)[0]

    def explain(self, x: ArrayBatch, normalize: str | None = None,
                spacing: Spacing = None) -> np.ndarray | list[np.ndarray]:
        """Return anomaly heatmaps at each input's own resolution.

        Args:
            x: A batch ``(N, C, *spatial)`` or a sequence of ``(C, *spatial)`` arrays of any size.
            normalize: None for raw anomaly values, ``"local"`` to scale each map by its own range, or
                ``"global"`` to scale by statistics of normal validation heatmaps (comparable across samples).
            spacing: As for :meth:`score`.

        Returns:
            ``(N, 1, *spatial)`` heatmaps, or a list of ``(1, *spatial)`` maps when input sizes differ.
        """
        return self._run(x, spacing, want_maps=True, normalize=normalize)[1]

    def score_and_explain(
        self, x: ArrayBatch, normalize: str | None = None, spacing: Spacing = None
    ) -> tuple[np.ndarray, np.ndarray | list[np.ndarray]]:
        """Return ``score(x)`` and ``explain(x, normalize)`` from one pass."""
        return self._run(x, spacing, want_maps=True, normalize=normalize)

    def _run(self, x: ArrayBatch, spacing: Spacing, want_maps: bool,
             normalize: str | None = None) -> tuple[np.ndarray, Any]:
        self._check_fitted()
        check_normalize(normalize)
        arrays = as_array_list(x)
        spacings = _spacings(spacing, len(arrays))
        target = self.preprocessor_.spacing
        if target is not None and len(set(target)) > 1 and any(s is None for s in spacings):
            warnings.warn(f"this detector resamples to the voxel size {target}; samples given without spacing are "
                          f"taken as isotropic at {min(target)} (pass spacing= to score them as their files say)",
                          stacklevel=3)
        scores, maps = [], []
        for score, heat in self._stream(list(zip(arrays, spacings, strict=True)), want_maps):
            scores.append(score)
            if heat is not None:
                maps.append(self._normalized([heat], normalize)[0])
        all_scores = np.asarray(scores, dtype=np.float32)
        return all_scores, (stack_or_list(maps) if want_maps else None)

    def _stream(self, items: Any, want_maps: bool, restore: bool = True) -> Iterator[tuple[float, np.ndarray | None]]:
        """Score (and explain) samples one group at a time: ``(score, heatmap or None)`` per sample, in order.

        ``items`` is a sample set or a list of ``(array, spacing)``. Consecutive samples of one shape and voxel size
        share a batch (up to ``batch_size``); each group is preprocessed, padded and scored by sliding windows.
        Heatmaps come back on each sample's own grid (``restore``) or on its part of the detector's grid.
        """
        from seedlens.data.transforms.geometry import restore_map

        network = self.network_
        network.eval()
        device = next(network.parameters()).device
        group: list[tuple[np.ndarray, Any]] = []
        for array, spacing in _items(items):
            self._check_input(array)
            if group and (group[0][0].shape != array.shape or group[0][1] != spacing
                          or len(group) >= max(1, self.config_.batch_size)):
                yield from self._score_group(group, want_maps, restore, device, restore_map)
                group = []
            group.append((array, spacing))
        if group:
            yield from self._score_group(group, want_maps, restore, device, restore_map)

    def _score_group(self, group: list[tuple[np.ndarray, Any]], want_maps: bool, restore: bool,
                     device: torch.device, restore_map: Any) -> Iterator[tuple[float, np.ndarray | None]]:
        from seedlens.inference.windows import round_up

        geometry = self.preprocessor_.geometry(tuple(group[0][0].shape[1:]), group[0][1])
        if self._cells:  # windows slide in steps of the network's stride: sides become multiples of it
            padded = tuple(round_up(n, self.input_multiple_) for n in geometry.output_shape)
        else:  # windows are training patches: sides become at least one patch
            padded = tuple(max(n, p) for n, p in zip(geometry.output_shape, self.input_size_, strict=True))
        if len(group) == 1:  # one (large) scan: preprocessed and padded in one array, no stacked copy
            batch = torch.from_numpy(self.preprocessor_(*group[0], pad_to=padded))[None].to(device)
        else:
            stacked = np.empty((len(group), self.preprocessor_.output_shape(group[0][0].shape)[0], *padded),
                               dtype=np.float32)
            for k, (array, spacing) in enumerate(group):
                stacked[k] = self.preprocessor_(array, spacing, pad_to=padded)
            batch = torch.from_numpy(stacked).to(device)
            del stacked
        passes = self._passes(batch, geometry.resampled_shape, want_maps)
        del batch  # the maps of a large scan are upsampled without its input in memory
        scores_np = torch.stack([p[1].float() for p in passes]).mean(dim=0).detach().cpu().numpy()
        heat = self._averaged_heatmap(passes, padded) if want_maps else None
        del passes
        for k in range(len(group)):
            if heat is None:
                yield float(scores_np[k]), None
                continue
            region: tuple[Any, ...] = (k, slice(None), *(slice(0, n) for n in geometry.output_shape))
            sample_heat = heat[region].detach().float().cpu()
            if restore:
                yield float(scores_np[k]), restore_map(sample_heat, geometry)
            else:
                own = sample_heat[(slice(None), *(slice(0, n) for n in geometry.resampled_shape))]
                yield float(scores_np[k]), np.ascontiguousarray(own.numpy())

    def _passes(self, x: torch.Tensor, extent: tuple[int, ...],
                want_maps: bool) -> list[tuple[tuple[int, ...], torch.Tensor, torch.Tensor]]:
        """``(flipped axes, scores, anomaly map)`` of one :meth:`_scan` per pass.

        One pass of the input as it is, or one per flip of the spatial axes with ``test_time_flips``.
        """
        flips: list[tuple[int, ...]] = [()]
        if getattr(self.config_, "test_time_flips", False):
            spatial = range(2, x.ndim)
            flips = [axes for r in range(len(spatial) + 1) for axes in itertools.combinations(spatial, r)]
        return [(axes, *self._scan(x.flip(axes) if axes else x, extent, axes, want_maps)) for axes in flips]

    def _averaged_heatmap(self, passes: list[tuple[tuple[int, ...], torch.Tensor, torch.Tensor]],
                          shape: tuple[int, ...]) -> torch.Tensor:
        """The mean heatmap ``(N, 1, *shape)`` of the passes, each upsampled once and flipped back."""
        module = self._module()
        total: torch.Tensor | None = None
        for axes, _, anomaly in passes:
            heat = (module.heatmap(anomaly, shape) if module.cells else anomaly[:, :1]).float()
            heat = heat.flip(axes) if axes else heat
            if total is None:
                total = heat if len(passes) == 1 else heat.clone()
            else:
                total += heat
            del heat
        assert total is not None
        if len(passes) > 1:
            total /= len(passes)
        return total

    @property
    def _cells(self) -> bool:
        """Whether the scoring module's map is at cell resolution (stitched by cells) rather than dense."""
        return bool(self._module().cells)


    def _scan(self, x: torch.Tensor, extent: tuple[int, ...], flipped: tuple[int, ...],
              want_maps: bool) -> tuple[torch.Tensor, torch.Tensor]:
        """Scores ``(N,)`` and the anomaly map of padded inputs ``x`` by sliding windows.

        The map is at cell resolution for a receptive-field scoring module (FCDD; :meth:`_averaged_heatmap` upsamples
        it once), else at input resolution. ``extent`` is the samples' own part of the grid (the rest is padding, at
        the end of each axis, or at the start of the ``flipped`` axes); only map cells centred in it count.
        """
        from seedlens.inference.sliding_window import blend_windows, stitch_cells
        from seedlens.inference.windows import round_up

        module = self._module()
        shape = tuple(int(s) for s in x.shape[2:])
        if module.cells:
            layout = module.layout
            window = tuple(min(round_up(w, layout.jump), s) for w, s in zip(self.window_size_, shape, strict=True))
            if self.config_.window_size is None and math.prod(shape) <= planning.WHOLE_PASS_FACTOR * math.prod(window):
                window = shape  # overlapping windows would recompute more than a whole pass costs in memory
            with _window_progress(self) as update:
                anomaly = stitch_cells(x, module.anomaly_map, window, layout, progress=update)
            centres = [torch.arange(n, device=x.device) * layout.jump + layout.shift for n in anomaly.shape[2:]]
        else:
            window = tuple(min(p, s) for p, s in zip(self.input_size_, shape, strict=True))
            with _window_progress(self) as update:
                anomaly = blend_windows(x, lambda w: self._dense_windows(w, want_maps), window, progress=update)
            centres = [torch.arange(n, device=x.device, dtype=torch.float32) for n in anomaly.shape[2:]]
        valid = _valid_cells(centres, shape, extent, flipped)
        valid = None if valid is None else valid.expand(anomaly.shape[0], 1, *anomaly.shape[2:])
        scores = self._pool_dense(anomaly, valid) if not module.cells else module.pool(anomaly, valid)
        return scores, anomaly

    def _pool_dense(self, anomaly: torch.Tensor, valid: torch.Tensor | None) -> torch.Tensor:
        """The score of a blended dense map: its last channel (the heatmap itself unless a detector adds one)."""
        return self._module().pool(anomaly[:, -1:], valid)

    def _dense_windows(self, x: torch.Tensor, want_maps: bool) -> torch.Tensor:
        """Dense maps ``(M, K, *window)`` of a batch of windows: channel 0 the heatmap, the last the score map.

        The scoring module's anomaly map (one channel, both) unless a detector overrides it.
        """
        return self._module().anomaly_map(x)

    def scoring_module(self) -> Any:
        """The scoring module (network + anomaly map + upsampler + pooling) of this fitted detector.

        It maps a preprocessed batch ``(N, C, *spatial)`` to ``(scores (N,), heatmaps (N, 1, *spatial))``: what
        ``seedlens export`` writes to ONNX and what the sliding window calls.
        """
        self._check_fitted()
        return self._module()

    @property
    def input_multiple(self) -> int:
        """What every spatial side of a :meth:`scoring_module` input must be a multiple of (the network's stride)."""
        self._check_fitted()
        return int(self.input_multiple_)

    def _module(self) -> Any:
        """The scoring module of the current network, built once per network."""
        module = getattr(self, "_scoring", None)
        if module is None or getattr(module, "_network_id", None) != id(self.network_):
            module = self._scoring_module()
            module._network_id = id(self.network_)
            self._scoring = module
        return module

    def _check_input(self, array: np.ndarray) -> None:
        expected = self.modality_.spatial_dims + 1
        if array.ndim != expected:
            layout = "(C, D, H, W)" if expected == 4 else "(C, H, W)"
            raise ShapeError(
                f"this detector was trained on {self.modality_.value} samples {layout}; got shape {tuple(array.shape)}"
            )
        if self.modality_ is Modality.CUBE and array.shape[0] != self.in_channels_:
            raise ShapeError(
                f"cube has {array.shape[0]} bands but the detector was trained on {self.in_channels_} bands"
            )

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | Path) -> Path:
        """Write config, weights and fitted state into the folder ``path``.

        ``load`` needs nothing else: the plan, preprocessing statistics, threshold and heatmap statistics are
        included. Under ``torchrun`` only the first process writes.
        """
        from seedlens.training.distributed import dist_from_env

        if not dist_from_env().is_main:
            return Path(path)
        folder = self._start_saving(path)
        buffer = _torch_bytes({k: v.cpu() for k, v in self.network_.state_dict().items()})
        atomic_write_bytes(folder / WEIGHTS_FILE, buffer)
        state = {
            "modality": self.modality_.value,
            "backbone": self.backbone_name_,
            "input_size": list(self.input_size_),
            "window_size": list(self.window_size_),
            "input_multiple": int(self.input_multiple_),
            "in_channels": self.in_channels_,
            "score_pooling": self.score_pooling_,
            "threshold": self.threshold_,
            "val_scores": [float(s) for s in self.val_scores_],
            "preprocessor": self.preprocessor_.to_dict(),
            "normalizer": self.normalizer_.to_dict(),
            "history": [float(v) for v in getattr(self, "history_", [])],
            "budget": getattr(self, "budget_", None),
            "plan": getattr(self, "plan_", None),
            "training": getattr(self, "training_stats_", None),
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
        from seedlens.inference.windows import round_up
        from seedlens.training import select_device
        from seedlens.training.distributed import dist_from_env

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
        detector.plan_ = state.get("plan") or {}
        detector.training_stats_ = state.get("training") or {}
        detector._load_extra_state(state)
        detector.input_multiple_ = int(state.get("input_multiple") or detector._multiple(config))
        # a detector saved before windows were recorded slid nothing: its window is its input, on the stride's grid
        saved_window = state.get("window_size") or [round_up(n, detector.input_multiple_) for n in state["input_size"]]
        detector.window_size_ = tuple(int(w) for w in saved_window)
        network = detector._build_network(config)
        weights = torch.load(folder / WEIGHTS_FILE, map_location="cpu", weights_only=True)
        network.load_state_dict(weights, strict=True)
        detector.network_ = _placed(network, select_device(device, dist_from_env().local_rank), config).eval()
        detector.threshold_ = float(state["threshold"])
        return detector

    # ------------------------------------------------------------------ subclass hooks
    def _uses_labelled(self) -> bool:
        """Whether labelled anomalies of the train split are used for training."""
        return False

    def _before_preprocessing(self, samples: TrainingData) -> None:
        """Check and resolve what training needs besides the samples (e.g. outlier sets), before preprocessing."""

    def _before_training(self, samples: TrainingData, cache: Any) -> None:
        """Prepare anything the loss needs (anomaly generators...) from the samples and their preprocessed cache."""

    def _extra_state(self) -> dict[str, Any]:
        return {}

    def _load_extra_state(self, state: dict[str, Any]) -> None:
        """Restore what ``_extra_state`` saved."""

    def _multiple(self, config: DeepDetectorConfig) -> int:
        """What every input side must be a multiple of: the backbone's total stride by default."""
        from seedlens.models import create_backbone

        options = dict(getattr(config, "backbone_options", None) or {})
        backbone = create_backbone(self.backbone_name_, in_channels=self.in_channels_, **options)
        return max(1, round(backbone.receptive_field.jump))

    def _smallest_window(self) -> int:
        """The smallest sliding window the scoring needs (a receptive field with valid cells inside)."""
        return 1

    @abstractmethod
    def _build_network(self, config: DeepDetectorConfig) -> nn.Module:
        """Build the (untrained) network from the resolved backbone, input size and channels."""

    @abstractmethod
    def _loss(self, model: nn.Module, batch: dict[str, torch.Tensor], generator: torch.Generator) -> torch.Tensor:
        """Return the scalar training loss of one batch ``{"x", "label", "mask"}``."""

    @abstractmethod
    def _scoring_module(self) -> Any:
        """Build the :class:`~seedlens.inference.ScoringModule` of the trained network."""


def _placed(network: nn.Module, device: torch.device, config: DeepDetectorConfig) -> nn.Module:
    """``network`` on ``device`` in the memory format ``config.memory_format`` resolves to for its dimensionality."""
    network = network.to(device)
    fmt = config.memory_format
    dims = int(getattr(network, "spatial_dims", 2))
    if fmt == "channels_last" or (fmt == "auto" and dims == 2):
        layout = torch.channels_last if dims == 2 else torch.channels_last_3d
        network = network.to(memory_format=layout)  # type: ignore[call-overload]  # missing from torch's stubs
    return network


def _valid_cells(centres: list[torch.Tensor], shape: tuple[int, ...], extent: tuple[int, ...],
                 flipped: tuple[int, ...]) -> torch.Tensor | None:
    """Bool ``(1, 1, *cells)``: the cells centred inside the samples' own part of a padded input; None if all are."""
    if tuple(shape) == tuple(extent):
        return None
    masks = []
    for axis, (c, size, n) in enumerate(zip(centres, shape, extent, strict=True)):
        inside = c >= size - n - 0.5 if axis + 2 in flipped else c <= n - 0.5
        if not bool(inside.any()):  # a side thinner than the first cell's centre: its nearest cell counts
            inside = c == (c.max() if axis + 2 in flipped else c.min())
        view = [1] * len(centres)
        view[axis] = -1
        masks.append(inside.reshape(view))
    valid = masks[0]
    for m in masks[1:]:
        valid = valid & m
    return valid[None, None]


def _spacings(spacing: Spacing, n: int) -> list[tuple[float, ...] | None]:
    """One voxel size (or None) per sample from what ``score(x, spacing=...)`` got."""
    if spacing is None:
        return [None] * n
    items: list[Any] = list(spacing)
    if items and all(isinstance(v, numbers.Real) for v in items):  # one voxel size for all (numpy numbers too)
        one = tuple(float(v) for v in items)
        return [one] * n
    if len(items) != n:
        raise ShapeError(f"spacing must be one voxel size for all samples or one per sample ({n}); got {len(items)}")
    return [tuple(float(v) for v in s) if s is not None else None for s in items]


def _items(items: Any) -> Iterator[tuple[np.ndarray, tuple[float, ...] | None]]:
    """``(array, spacing)`` pairs of a sample set (read one at a time) or of a list of pairs."""
    if hasattr(items, "load"):
        for i in range(len(items)):
            sample = items.load(i)
            yield np.asarray(sample.array), sample.meta.voxel_size
        return
    for array, spacing in items:
        yield np.asarray(array), spacing


@contextmanager
def _progress_bar(enabled: bool, description: str) -> Iterator[Any]:
    """A rich progress bar on a terminal: yields ``update(done, total)``; a no-op elsewhere."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)
    if not (enabled and console.is_terminal):
        yield None
        return
    with Progress(TextColumn(f"[bold]{description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=True) as bar:
        task = bar.add_task(description, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


@contextmanager
def _window_progress(detector: DeepDetector) -> Iterator[Any]:
    """A progress bar over the windows of one large scan (only shown for scans of many windows)."""
    with _progress_bar(getattr(detector, "_progress", True), "sliding window") as update:
        if update is None:
            yield None
            return

        def only_large(done: int, total: int) -> None:
            if total >= 8:
                update(done, total)

        yield only_large


def _torch_bytes(obj: Any) -> bytes:
    import io

    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


def _backbone_of(network: nn.Module, option: str) -> Any:
    """The network's backbone, for an option that changes how it trains.

    Raises:
        ConfigError: the network has no backbone (the option is named).
    """
    backbone = getattr(network, "backbone", None)
    if backbone is None:
        raise ConfigError(f"{option} applies to a network's pretrained backbone; {type(network).__name__} has none")
    return backbone
