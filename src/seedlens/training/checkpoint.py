"""Atomic training checkpoints: write, read and restore.

A checkpoint holds everything needed to continue a run bit-for-bit: model weights (unwrapped from DDP),
optimizer, learning-rate scheduler and gradient-scaler states, the number of completed epochs, the global
step, the per-epoch loss history, the run's :class:`TrainConfig` and the global RNG states.

Writes go to a temporary file in the same folder which then replaces the old checkpoint with one
``os.replace``: a crash or a kill mid-write leaves the previous checkpoint intact (plus a stray
``.checkpoint.pt.*.tmp`` file that the next successful save removes).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from seedlens.atomic import atomic_path
from seedlens.errors import CorruptFileError, ReadError, SeedlensError
from seedlens.training.seeding import set_rng_state

CHECKPOINT_NAME = "checkpoint.pt"
"""File name of a run folder's checkpoint."""

CONFIG_NAME = "train_config.yaml"
"""File name of a run folder's resolved training configuration."""

FORMAT = "seedlens.training.checkpoint/1"


class CheckpointMismatchError(SeedlensError, ValueError):
    """A checkpoint does not fit the model or optimizer it is loaded into; the message names the keys."""

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


@dataclass
class Checkpoint:
    """What :func:`load_checkpoint` found besides the states it restored.

    Attributes:
        path: The file.
        epoch: Epochs completed when it was written.
        global_step: Optimizer steps taken when it was written.
        losses: Mean training loss of every completed epoch.
        config: The run's ``TrainConfig`` as a plain dict.
        world_size: Processes the run used.
        rng: Global RNG states, one per rank (see :func:`seedlens.training.seeding.rng_state`).
    """

    path: Path
    epoch: int
    global_step: int
    losses: list[float]
    config: dict[str, Any]
    world_size: int
    rng: list[dict[str, Any]]


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> None:
    """Write ``state`` with :func:`torch.save` so that ``path`` is always either the old or the new checkpoint.

    The payload streams into a temporary file next to ``path`` (no second copy in memory), is fsynced, and
    replaces ``path`` atomically; stray temporary files from earlier interrupted saves are then removed.

    Args:
        path: Destination, usually ``run_dir / "checkpoint.pt"``.
        state: Plain data and tensors, as built by the training loop (a ``"format"`` key is added).
    """
    path = Path(path)
    with atomic_path(path) as temporary, open(temporary, "wb") as handle:
        torch.save({"format": FORMAT, **state}, handle)
    _fsync_dir(path.parent)
    for stray in path.parent.glob(f".{path.name}.*.tmp"):
        stray.unlink(missing_ok=True)


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read a checkpoint file as a dict of plain data and CPU tensors, without restoring anything.

    Loads with ``weights_only=True``: a checkpoint can hold no code.

    Raises:
        ReadError: the file does not exist.
        CorruptFileError: the file is truncated, unreadable or not a seedlens training checkpoint.
    """
    path = Path(path)
    if not path.is_file():
        raise ReadError(path, "no checkpoint here (a run writes one each epoch when given run_dir)")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises RuntimeError, UnpicklingError, EOFError... for broken files
        raise CorruptFileError(path, f"not a readable checkpoint: {err}") from err
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise CorruptFileError(path, f"not a seedlens training checkpoint (expected format {FORMAT!r})")
    return data


def load_checkpoint(
    path: str | Path,
    model: nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
    scaler: torch.amp.GradScaler | None = None,
    restore_rng: bool = False,
) -> Checkpoint:
    """Restore a checkpoint into ``model`` and, when given, the optimizer, scheduler and scaler.

    Loading is strict: a checkpoint for another architecture raises before any weight is copied, never a
    silent partial load.

    Args:
        path: The checkpoint file.
        model: Receives the weights; pass the plain module (not DDP-wrapped).
        optimizer: Receives the optimizer state (built over ``model``'s parameters in the same order).
        scheduler: Receives the learning-rate scheduler state.
        scaler: Receives the gradient-scaler state; skipped when either side has AMP scaling disabled.
        restore_rng: Also restore the global RNG states (python, numpy, torch, CUDA) this process's rank
            had when the checkpoint was written (rank 0 outside torchrun). A rank the checkpoint has no state
            for (the run now has more processes) keeps its current states.

    Returns:
        The checkpoint's bookkeeping: epoch, global step, loss history, config, RNG states.

    Raises:
        ReadError: the file does not exist.
        CorruptFileError: the file is not a readable seedlens checkpoint.
        CheckpointMismatchError: the weights or optimizer state do not fit (names the missing, unexpected and
            differently shaped keys).
    """
    path = Path(path)
    return restore_checkpoint(path, read_checkpoint(path), model, optimizer, scheduler, scaler, restore_rng)


def restore_checkpoint(
    path: str | Path,
    data: dict[str, Any],
    model: nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
    scaler: torch.amp.GradScaler | None = None,
    restore_rng: bool = False,
) -> Checkpoint:
    """Like :func:`load_checkpoint`, from ``data`` already read by :func:`read_checkpoint` (``path`` names it).

    Lets a caller inspect a checkpoint (e.g. compare its config) before restoring it without reading the
    file twice.
    """
    path = Path(path)
    _check_fits(path, data["model"], model)
    try:
        model.load_state_dict(data["model"], strict=True)
    except RuntimeError as err:  # anything _check_fits did not foresee
        raise CheckpointMismatchError(path, f"weights do not fit {type(model).__name__}: {err}") from err
    if optimizer is not None:
        try:
            optimizer.load_state_dict(data["optimizer"])
        except (ValueError, KeyError, RuntimeError) as err:
            raise CheckpointMismatchError(
                path, f"optimizer state does not fit {type(optimizer).__name__}: {err} (the trainable parameters "
                "or their groups differ from the checkpoint's: was freeze_stages or backbone_lr changed?)"
            ) from err
    if scheduler is not None:
        scheduler.load_state_dict(data["scheduler"])
    if scaler is not None and scaler.is_enabled() and data.get("scaler"):
        scaler.load_state_dict(data["scaler"])
    rng = list(data["rng"])
    rank = dist.get_rank() if dist.is_available() and dist.is_initialized() else 0
    if restore_rng and rank < len(rng):
        set_rng_state(rng[rank])
    return Checkpoint(
        path=path,
        epoch=int(data["epoch"]),
        global_step=int(data["global_step"]),
        losses=[float(v) for v in data["losses"]],
        config=dict(data["config"]),
        world_size=int(data.get("world_size", 1)),
        rng=rng,
    )


def _check_fits(path: Path, stored: dict[str, torch.Tensor], model: nn.Module) -> None:
    expected = model.state_dict()
    missing = [k for k in expected if k not in stored]
    unexpected = [k for k in stored if k not in expected]
    shapes = [
        f"{k} (checkpoint {tuple(stored[k].shape)}, model {tuple(v.shape)})"
        for k, v in expected.items()
        if k in stored and isinstance(v, torch.Tensor) and stored[k].shape != v.shape
    ]
    problems = [
        f"{label}: {_listing(keys)}"
        for label, keys in (("missing keys", missing), ("unexpected keys", unexpected), ("shape mismatch", shapes))
        if keys
    ]
    if problems:
        raise CheckpointMismatchError(
            path, f"checkpoint is for another architecture than {type(model).__name__}; " + "; ".join(problems)
        )


def _listing(items: list[str], limit: int = 8) -> str:
    shown = ", ".join(items[:limit])
    return shown if len(items) <= limit else f"{shown} ... and {len(items) - limit} more"


def _fsync_dir(folder: Path) -> None:
    """Make the rename durable (POSIX); a no-op where directories cannot be opened (Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
