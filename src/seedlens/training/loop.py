"""The training loop: one code path for CPU, CUDA and torchrun/DistributedDataParallel.

The loop knows nothing about losses, scores or heatmaps: the caller's ``step`` turns a batch into a scalar
loss and the loop does the rest — device placement, mixed precision, optimisation, the learning-rate
schedule, progress, atomic checkpoints and resuming.

Reproducibility: batch order and the generator handed to ``step`` are re-seeded from
``(seed, epoch[, step, rank])`` rather than carried along, and the global RNGs (dropout...) are saved in the
checkpoint, so a run killed after epoch k and resumed produces the same weights as a run never interrupted.
"""

from __future__ import annotations

import logging
import math
import time
import warnings
from collections.abc import Callable, Mapping, Sized
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.utils.data import (
    ConcatDataset,
    DataLoader,
    Dataset,
    DistributedSampler,
    IterableDataset,
    RandomSampler,
    Sampler,
)

from seedlens.config import save_yaml, to_dict
from seedlens.errors import ConfigError, DataSourceError, ShapeError
from seedlens.training import checkpoint
from seedlens.training.config import HOLD_LIMIT_BYTES, RESUMABLE_CHANGES, TrainConfig, validate
from seedlens.training.device import PRECISIONS, select_device, select_precision
from seedlens.training.distributed import DistInfo, all_reduce_sum, barrier, dist_from_env, process_group, unwrap, wrap
from seedlens.training.optim import build_optimizer, build_scheduler, parameter_groups
from seedlens.training.progress import TrainProgress
from seedlens.training.seeding import derive_seed, preserved_rng, rng_state, seed_everything

log = logging.getLogger(__name__)

StepFn = Callable[[nn.Module, dict[str, Tensor], torch.Generator], Tensor]
"""``step(model, batch, generator) -> loss``: forward a batch (already on the device) and return a scalar loss.

Call ``model(...)`` (its forward) so DDP can synchronise gradients; draw any augmentation randomness from
``generator`` (it lives on the training device) so resumed runs repeat it exactly.
"""

EpochHook = Callable[[int, float], None]
"""``on_epoch_end(epoch, mean_loss)`` with the 1-based number of the epoch just completed."""

_ORDER, _WORKERS, _STEP = 0, 1, 2  # separate seed streams for batch order, worker seeds and the step generator


@dataclass
class TrainResult:
    """What a call to :func:`train` did.

    Attributes:
        losses: Mean training loss of every completed epoch of the run, including epochs from before a resume.
        epochs_run: Epochs trained by this call (0 when resuming a finished run).
        resumed_from: Epochs already completed when this call started (0 for a fresh run).
        wall_time_s: Seconds this call took.
        samples_per_s: Training samples processed per second by all processes together.
        device: The device this process trained on, e.g. ``"cuda:0"``.
        precision: ``"fp32"``, ``"bf16"`` or ``"fp16"``.
        world_size: Processes that trained together.
        checkpoint: The run's checkpoint file, or None without a ``run_dir``.
        data_wait_s: Seconds this process waited for batches (loading, preprocessing and transfer not hidden by
            the DataLoader's workers), over the epochs of this call.
        step_s: Seconds in the training steps themselves (the step function, backward, optimizer).
    """

    losses: list[float]
    epochs_run: int
    resumed_from: int
    wall_time_s: float
    samples_per_s: float
    device: str
    precision: str
    world_size: int
    checkpoint: Path | None
    data_wait_s: float = 0.0
    step_s: float = 0.0

    @property
    def data_wait_share(self) -> float:
        """Share of the training time spent waiting for data (0 when nothing was trained)."""
        total = self.data_wait_s + self.step_s
        return self.data_wait_s / total if total > 0 else 0.0


def train(
    model: nn.Module,
    step: StepFn,
    dataset: Dataset[Any],
    config: TrainConfig,
    run_dir: str | Path | None = None,
    resume: bool = False,
    progress: bool = True,
    on_epoch_end: EpochHook | None = None,
) -> TrainResult:
    """Train ``model`` in place, in one process or under ``torchrun --nproc-per-node N``.

    Each epoch shuffles ``dataset`` (a map-style dataset whose items are dicts of tensors), moves every
    batch to the device, calls ``step`` under autocast (CUDA with ``config.amp``), back-propagates and steps
    the optimizer; then the learning-rate schedule advances. With ``run_dir``, ``run_dir/checkpoint.pt`` is
    replaced atomically after every epoch *before* ``on_epoch_end`` runs, and ``run_dir/train_config.yaml``
    holds the config. Under torchrun, only rank 0 writes, shows progress and logs; every rank returns.

    Training starts by seeding the global RNGs (python, numpy, torch) from ``config.seed`` and the rank;
    seed the model's construction yourself (:func:`seedlens.training.seed_everything`) to repeat its
    initial weights.

    Args:
        model: The network; it is moved to the device and trained in place.
        step: ``step(model, batch, generator) -> scalar loss``; see :data:`StepFn`.
        dataset: Map-style dataset of ``dict[str, Tensor]`` samples; default collation stacks them into
            batches ``(N, ...)``.
        config: Optimisation settings, validated here.
        run_dir: Folder for the checkpoint and config; None trains without checkpoints.
        resume: Continue from ``run_dir/checkpoint.pt`` (starts fresh when there is none yet, so one
            command line serves a first launch and a restart). ``config.epochs`` may be raised to train
            longer; a run that already completed its epochs returns at once with its stored history.
        progress: Show a progress bar (only ever on a terminal, and only on rank 0).
        on_epoch_end: Called on every rank after each epoch's checkpoint is written. The global RNG states
            are restored after it returns, so it may evaluate or sample without changing training.

    Returns:
        The loss history and run statistics.

    Raises:
        ConfigError: a config value is invalid; ``resume`` without ``run_dir``; ``run_dir`` already holds a
            checkpoint and ``resume`` is False; the checkpoint's config differs in a field that shapes
            training (anything but epochs, device, num_workers, amp).
        DataSourceError: the dataset is empty.
        ShapeError: ``step`` returned something other than a scalar tensor that requires grad.
        CheckpointMismatchError: the checkpoint was written for another architecture.
        FloatingPointError: an epoch's mean loss is NaN or infinite (the last good checkpoint is kept).
    """
    started = time.perf_counter()
    validate(config)
    path = _checkpoint_path(run_dir, resume)
    if isinstance(dataset, IterableDataset) or not hasattr(dataset, "__len__"):
        raise ConfigError(f"train() needs a map-style dataset with __len__; got {type(dataset).__name__}")
    if len(dataset) == 0:
        raise DataSourceError(f"dataset {type(dataset).__name__} is empty; nothing to train on")
    info = dist_from_env()
    device = select_device(config.device, info.local_rank)
    with process_group(info, device):
        return _Run(model, step, dataset, config, info, device, path).fit(resume, progress, on_epoch_end, started)


def _checkpoint_path(run_dir: str | Path | None, resume: bool) -> Path | None:
    if run_dir is None:
        if resume:
            raise ConfigError("resume=True needs the run_dir holding the checkpoint; got run_dir=None")
        return None
    path = Path(run_dir) / checkpoint.CHECKPOINT_NAME
    if path.is_file() and not resume:
        raise ConfigError(f"{path} already exists; pass resume=True to continue that run, or choose another run_dir")
    return path


class _Run:
    """The state of one call to train(): model, optimizer, schedule, data and bookkeeping."""

    def __init__(
        self,
        model: nn.Module,
        step: StepFn,
        dataset: Dataset[Any],
        config: TrainConfig,
        info: DistInfo,
        device: torch.device,
        path: Path | None,
    ) -> None:
        self.step, self.config, self.info, self.device, self.path = step, config, info, device, path
        self.precision = select_precision(device, config.amp)
        seed_everything(derive_seed(config.seed, info.rank))  # dropout etc. differ per rank but repeat per run
        self.model = model.to(device)
        self.optimizer = build_optimizer(parameter_groups(self.model, config), config)
        self.scheduler = build_scheduler(self.optimizer, config)
        self.scaler = torch.amp.GradScaler(device.type, enabled=self.precision == "fp16")
        self.dataset = dataset
        self.sampler, self.loader = _make_loader(dataset, config, info, device)
        self.generator = torch.Generator(device=device)
        self.losses: list[float] = []
        self.epoch = 0  # epochs completed
        self.global_step = 0
        self.data_wait_s = 0.0
        self.step_s = 0.0

    def fit(self, resume: bool, progress: bool, on_epoch_end: EpochHook | None, started: float) -> TrainResult:
        """Resume if asked, train the remaining epochs and report."""
        if resume and self.path is not None and self.path.is_file():
            self._resume(self.path)
        resumed_from = self.epoch
        if self.info.is_main and self.path is not None:
            save_yaml(to_dict(self.config), self.path.parent / checkpoint.CONFIG_NAME)
        net = wrap(self.model, self.info, self.device)
        samples = 0
        remaining = max(self.config.epochs - self.epoch, 0)
        with TrainProgress(progress and self.info.is_main, self.config.epochs, remaining * len(self.loader)) as bar:
            while self.epoch < self.config.epochs:
                epoch_started = time.perf_counter()
                bar.start_epoch(self.epoch + 1)
                mean_loss, seen = self._run_epoch(net, bar)
                samples += seen
                self._end_epoch(mean_loss)
                seconds = time.perf_counter() - epoch_started
                bar.end_epoch(self.epoch, mean_loss, seconds)
                if self.info.is_main:
                    log.info("epoch %d/%d: loss %.6g (%.1f s)", self.epoch, self.config.epochs, mean_loss, seconds)
                if on_epoch_end is not None:
                    with preserved_rng():
                        on_epoch_end(self.epoch, mean_loss)
        wall = time.perf_counter() - started
        return TrainResult(
            losses=list(self.losses),
            epochs_run=self.epoch - resumed_from,
            resumed_from=resumed_from,
            wall_time_s=wall,
            samples_per_s=samples / wall if wall > 0 else 0.0,
            device=str(self.device),
            precision=self.precision,
            world_size=self.info.world_size,
            checkpoint=self.path,
            data_wait_s=self.data_wait_s,
            step_s=self.step_s,
        )

    def _run_epoch(self, net: nn.Module, bar: TrainProgress) -> tuple[float, int]:
        """Train one epoch; return its mean loss and the samples all ranks processed."""
        config, epoch = self.config, self.epoch
        net.train()
        # Batch order depends on (seed, epoch) only, so a resumed epoch sees the batches an uninterrupted one would.
        if isinstance(self.sampler, DistributedSampler):
            self.sampler.set_epoch(epoch)
        else:
            assert isinstance(self.sampler, RandomSampler) and self.sampler.generator is not None
            self.sampler.generator.manual_seed(derive_seed(config.seed, epoch, _ORDER))
        if isinstance(self.loader, DataLoader):
            assert self.loader.generator is not None
            self.loader.generator.manual_seed(derive_seed(config.seed, epoch, _WORKERS, self.info.rank))
        if hasattr(self.dataset, "set_epoch"):  # datasets of random draws (patches) draw per epoch
            self.dataset.set_epoch(epoch)
        autocast_dtype = PRECISIONS[self.precision]
        totals = torch.zeros(2, dtype=torch.float64, device=self.device)  # loss * samples, samples
        waited = time.perf_counter()
        for index, batch in enumerate(self.loader):
            batch = _to_device(batch, self.device)
            stepping = time.perf_counter()
            self.data_wait_s += stepping - waited
            self.generator.manual_seed(derive_seed(config.seed, epoch, _STEP, index, self.info.rank))
            with torch.autocast(self.device.type, dtype=autocast_dtype, enabled=autocast_dtype is not None):
                loss = self.step(net, batch, self.generator)
            _check_loss(loss)
            self.optimizer.zero_grad(set_to_none=True)
            self.scaler.scale(loss).backward()
            if config.grad_clip is not None:
                self.scaler.unscale_(self.optimizer)  # clip the true gradients, not the fp16-scaled ones
                nn.utils.clip_grad_norm_(self.model.parameters(), config.grad_clip)
            self.scaler.step(self.optimizer)
            self.scaler.update()
            count = _batch_len(batch)
            totals[0] += loss.detach().double() * count
            totals[1] += count
            self.global_step += 1
            bar.advance(loss, count * self.info.world_size)
            waited = time.perf_counter()
            self.step_s += waited - stepping
        loss_sum, samples = all_reduce_sum(totals, self.info).tolist()
        return loss_sum / samples, int(samples)

    def _end_epoch(self, mean_loss: float) -> None:
        """Check the loss, advance the schedule and write the checkpoint (rank 0) before anyone goes on."""
        if not math.isfinite(mean_loss):
            raise FloatingPointError(
                f"epoch {self.epoch + 1}: mean training loss is {mean_loss}; training diverged "
                "(lower lr, set grad_clip, or check the step); the last checkpoint holds the previous epoch"
            )
        self.scheduler.step()
        self.losses.append(mean_loss)
        self.epoch += 1
        if self.path is None:
            return
        rng = _gather(rng_state(), self.info)
        if self.info.is_main:
            checkpoint.save_checkpoint(self.path, self._state(rng))
        barrier(self.info, self.device)  # nobody runs the hook (which may exit) before the checkpoint exists

    def _state(self, rng: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "model": unwrap(self.model).state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(),
            "epoch": self.epoch,
            "global_step": self.global_step,
            "losses": list(self.losses),
            "config": to_dict(self.config),
            "world_size": self.info.world_size,
            "rng": rng,
        }

    def _resume(self, path: Path) -> None:
        stored = checkpoint.read_checkpoint(path)
        _check_resumable(path, stored["config"], self.config)
        found = checkpoint.restore_checkpoint(
            path, stored, unwrap(self.model), self.optimizer, self.scheduler, self.scaler, restore_rng=True
        )
        if found.world_size != self.info.world_size:
            warnings.warn(
                f"{path} was written by {found.world_size} process(es), resuming with {self.info.world_size}: "
                "the global batch size and batch order change",
                stacklevel=2,
            )
        self.epoch, self.global_step, self.losses = found.epoch, found.global_step, found.losses
        if self.info.is_main:
            log.info("resuming %s after epoch %d of %d", path, self.epoch, self.config.epochs)


def _check_resumable(path: Path, stored: Mapping[str, Any], config: TrainConfig) -> None:
    current = to_dict(config)
    changed = [
        f"{name}: {stored[name]!r} in the checkpoint, {current[name]!r} now"
        for name in current
        if name not in RESUMABLE_CHANGES and name in stored and stored[name] != current[name]
    ]
    if changed:
        raise ConfigError(
            f"cannot resume {path} with a different config ({'; '.join(changed)}); only "
            f"{', '.join(sorted(RESUMABLE_CHANGES))} may change, use another run_dir for a new run"
        )


def _make_loader(
    dataset: Dataset[Any], config: TrainConfig, info: DistInfo, device: torch.device
) -> tuple[Sampler[int], DataLoader[Any] | _HeldBatches]:
    sampler: Sampler[int]
    held = _held(dataset, config, device)
    size = len(cast(Sized, dataset))
    if config.dataset_repeats > 1:
        dataset = (_Repeated(dataset, config.dataset_repeats) if hasattr(dataset, "item")
                   else ConcatDataset([dataset] * config.dataset_repeats))
    if info.is_distributed:
        sampler = DistributedSampler(dataset, num_replicas=info.world_size, rank=info.rank, seed=config.seed)
    else:
        sampler = RandomSampler(cast(Sized, dataset), generator=torch.Generator())
    # A one-sample last batch breaks BatchNorm, so drop the ragged end unless it is the only batch.
    drop_last = len(cast(Sized, sampler)) > config.batch_size
    if held is not None:
        return sampler, _HeldBatches(held, sampler, config.batch_size, drop_last, size)
    loader = DataLoader(
        dataset,
        batch_size=config.batch_size,
        sampler=sampler,
        drop_last=drop_last,
        num_workers=config.num_workers,
        pin_memory=device.type == "cuda",
        generator=torch.Generator(),
    )
    return sampler, loader


def _held(dataset: Dataset[Any], config: TrainConfig, device: torch.device) -> dict[str, Tensor] | None:
    """The dataset's items stacked on ``device`` when ``config.hold_data`` says to hold it there, else None."""
    stacked = getattr(dataset, "stacked", None)
    if config.hold_data == "never" or stacked is None:
        return None
    if config.hold_data == "auto":
        measure = getattr(dataset, "stacked_nbytes", None)
        nbytes = measure() if measure is not None else None
        limit = HOLD_LIMIT_BYTES
        if device.type == "cuda":
            limit = min(limit, torch.cuda.mem_get_info(device)[0] // 4)
        if nbytes is None or nbytes > limit:
            return None
    tensors = stacked()
    if tensors is None:
        return None
    return {k: v.to(device) for k, v in tensors.items()}


class _HeldBatches:
    """Batches indexed from tensors already on the training device, in the order ``sampler`` gives.

    What a DataLoader over the same dataset, sampler, batch size and ``drop_last`` yields, without loading,
    collating or copying anything per step. ``size`` is the dataset's own length: a repeated dataset's indices wrap.
    """

    def __init__(self, tensors: dict[str, Tensor], sampler: Sampler[int], batch_size: int, drop_last: bool,
                 size: int) -> None:
        self.tensors, self.sampler, self.batch_size, self.drop_last, self.size = (
            tensors, sampler, batch_size, drop_last, size)
        self.device = next(iter(tensors.values())).device

    def __len__(self) -> int:
        n = len(cast(Sized, self.sampler))
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self) -> Any:
        order = torch.as_tensor(list(self.sampler), dtype=torch.long) % self.size
        order = order.to(self.device)
        for k in range(len(self)):
            index = order[k * self.batch_size : (k + 1) * self.batch_size]
            yield {key: value[index] for key, value in self.tensors.items()}


class _Repeated(Dataset[Any]):
    """A dataset of random draws (``item(index, draw)``) repeated ``repeats`` times: every repeat is a new draw."""

    def __init__(self, dataset: Any, repeats: int) -> None:
        self.dataset, self.repeats, self.size = dataset, repeats, len(dataset)

    def __len__(self) -> int:
        return self.size * self.repeats

    def __getitem__(self, index: int) -> Any:
        return self.dataset.item(index % self.size, index)


def _to_device(batch: Any, device: torch.device) -> dict[str, Any]:
    if not isinstance(batch, Mapping):
        raise TypeError(
            f"dataset items must be dicts of tensors (the step receives dict[str, Tensor]); got {type(batch).__name__}"
        )
    non_blocking = device.type == "cuda"
    return {k: v.to(device, non_blocking=non_blocking) if isinstance(v, Tensor) else v for k, v in batch.items()}


def _batch_len(batch: Mapping[str, Any]) -> int:
    for value in batch.values():
        if isinstance(value, Tensor) and value.ndim > 0:
            return int(value.shape[0])
    raise TypeError(f"batch has no tensor to count samples from; keys: {', '.join(batch)}")


def _check_loss(loss: Any) -> None:
    if not isinstance(loss, Tensor) or loss.ndim != 0:
        got = tuple(loss.shape) if isinstance(loss, Tensor) else type(loss).__name__
        raise ShapeError(f"step must return a scalar loss tensor (shape ()); got {got}")
    if not loss.requires_grad:
        raise ShapeError("step returned a loss that does not require grad; was it detached or computed under no_grad?")


def _gather(state: dict[str, Any], info: DistInfo) -> list[dict[str, Any]]:
    """Collect one RNG state per rank (in rank order) so every rank can resume its own stream."""
    if not info.is_distributed:
        return [state]
    states: list[Any] = [None] * info.world_size
    dist.all_gather_object(states, state)
    return states
