"""seedlens.training: one training loop for CPU, CUDA and torchrun/DDP, with atomic checkpoints and resume.

The caller supplies the loss as a ``step`` function; the loop does devices, mixed precision, optimisation,
schedules, progress, checkpoints and resuming::

    def step(model, batch, generator):  # batch: dict of tensors already on the device
        x, mask = confetti(batch["image"], generator=generator)  # draw augmentation from `generator`
        return fcdd_loss(model(x), mask)

    seed_everything(0)
    model = build_model()
    result = train(model, step, dataset, TrainConfig(epochs=10), run_dir="runs/fcdd")
    result = train(model, step, dataset, TrainConfig(epochs=20), run_dir="runs/fcdd", resume=True)  # 10 more

The same script runs unchanged under ``torchrun --nproc-per-node N script.py``.
"""

from seedlens.training.checkpoint import (
    CHECKPOINT_NAME,
    CONFIG_NAME,
    Checkpoint,
    CheckpointMismatchError,
    load_checkpoint,
    read_checkpoint,
    restore_checkpoint,
    save_checkpoint,
)
from seedlens.training.config import TrainConfig, validate
from seedlens.training.device import select_device, select_precision
from seedlens.training.distributed import DistInfo, dist_from_env, unwrap
from seedlens.training.loop import EpochHook, StepFn, TrainResult, train
from seedlens.training.optim import build_optimizer, build_scheduler
from seedlens.training.seeding import derive_seed, seed_everything

__all__ = [
    "CHECKPOINT_NAME",
    "CONFIG_NAME",
    "Checkpoint",
    "CheckpointMismatchError",
    "DistInfo",
    "EpochHook",
    "StepFn",
    "TrainConfig",
    "TrainResult",
    "build_optimizer",
    "build_scheduler",
    "derive_seed",
    "dist_from_env",
    "load_checkpoint",
    "read_checkpoint",
    "restore_checkpoint",
    "save_checkpoint",
    "seed_everything",
    "select_device",
    "select_precision",
    "train",
    "unwrap",
    "validate",
]
