"""torchrun support: read the rank from the environment, own the process group, wrap and unwrap the model.

A script that calls :func:`seedlens.training.train` runs unchanged as one process or under
``torchrun --nproc-per-node N script.py``: torchrun sets ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK`` and the
loop turns them into a process group and a DistributedDataParallel model.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from seedlens.errors import ConfigError


@dataclass(frozen=True)
class DistInfo:
    """Where this process sits in a (possibly one-process) run.

    Attributes:
        rank: Global rank, 0 for a single process.
        world_size: Number of processes.
        local_rank: Rank on this machine (picks the GPU), None outside torchrun.
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int | None = None

    @property
    def is_main(self) -> bool:
        """Whether this process logs and writes checkpoints (rank 0)."""
        return self.rank == 0

    @property
    def is_distributed(self) -> bool:
        """Whether gradients are synchronised across several processes."""
        return self.world_size > 1


def dist_from_env() -> DistInfo:
    """Read ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK`` as torchrun sets them.

    An already initialised process group (set up by the caller) wins over the environment.

    Raises:
        ConfigError: a variable is not a non-negative integer or the ranks are inconsistent.
    """
    if dist.is_available() and dist.is_initialized():
        local = _env_int("LOCAL_RANK")
        return DistInfo(dist.get_rank(), dist.get_world_size(), local)
    world_size = _env_int("WORLD_SIZE")
    if world_size is None:
        return DistInfo()
    rank = _env_int("RANK") or 0
    local_rank = _env_int("LOCAL_RANK")
    if world_size < 1 or rank >= world_size:
        raise ConfigError(f"inconsistent torchrun environment: RANK={rank}, WORLD_SIZE={world_size}")
    return DistInfo(rank, world_size, 0 if local_rank is None else local_rank)


def _env_int(name: str) -> int | None:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return None
    if not raw.isdigit():
        raise ConfigError(f"environment variable {name} must be a non-negative integer; got {raw!r}")
    return int(raw)


@contextmanager
def process_group(info: DistInfo, device: torch.device) -> Iterator[None]:
    """Initialise the default process group for a multi-process run and destroy it on exit.

    NCCL on CUDA, gloo otherwise. Does nothing for a single process, and leaves alone a group the caller
    initialised itself.
    """
    created = False
    if info.is_distributed and not dist.is_initialized():
        if device.type == "cuda":
            torch.cuda.set_device(device)
            dist.init_process_group("nccl", device_id=device)
        else:
            dist.init_process_group("gloo")
        created = True
    try:
        yield
    finally:
        if created:
            dist.destroy_process_group()


def wrap(model: nn.Module, info: DistInfo, device: torch.device) -> nn.Module:
    """Wrap ``model`` (already on ``device``) in DistributedDataParallel for a multi-process run.

    DDP broadcasts rank 0's weights at construction, so every rank starts from the same model.
    """
    if not info.is_distributed:
        return model
    device_ids = [device] if device.type == "cuda" else None
    return DistributedDataParallel(model, device_ids=device_ids)


def unwrap(model: nn.Module) -> nn.Module:
    """Return the plain module inside DDP and ``torch.compile`` wrappers, whose state dict has no prefixes."""
    while True:
        if isinstance(model, DistributedDataParallel):
            model = model.module
        elif isinstance(getattr(model, "_orig_mod", None), nn.Module):  # torch.compile
            model = model._orig_mod  # type: ignore[assignment]
        else:
            return model


def barrier(info: DistInfo, device: torch.device | None = None) -> None:
    """Wait for every process (no-op for one process)."""
    if info.is_distributed:
        dist.barrier(device_ids=[device.index] if device is not None and device.type == "cuda" else None)


def broadcast_object(obj: Any, info: DistInfo) -> Any:
    """Rank 0's ``obj`` on every process (``obj`` itself for one process); it must pickle."""
    if not info.is_distributed:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def broadcast_buffers(model: nn.Module, info: DistInfo) -> None:
    """Give every process the first process's buffers (BatchNorm running statistics...) in place."""
    if not info.is_distributed:
        return
    for buffer in unwrap(model).buffers():
        dist.broadcast(buffer.data, src=0)


def all_gather_object(obj: Any, info: DistInfo) -> list[Any]:
    """Every process's ``obj``, in rank order (``[obj]`` for one process); it must pickle."""
    if not info.is_distributed:
        return [obj]
    gathered: list[Any] = [None] * info.world_size
    dist.all_gather_object(gathered, obj)
    return gathered


def all_reduce_sum(tensor: torch.Tensor, info: DistInfo) -> torch.Tensor:
    """Sum ``tensor`` over all processes in place and return it (unchanged for one process)."""
    if info.is_distributed:
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor
