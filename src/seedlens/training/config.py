"""The training configuration and its validation rules.

The rules are declared as data (``RULES``): one table both validates a :class:`TrainConfig` and lets tests
generate invalid values, so a message and its check can never drift apart.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

from seedlens.errors import ConfigError

OPTIMIZERS = ("adam", "adamw", "sgd")
"""Optimizer names :func:`seedlens.training.optim.build_optimizer` knows."""

RESUMABLE_CHANGES = frozenset({"epochs", "device", "num_workers", "amp", "hold_data"})
"""Fields that may differ between a checkpoint's config and the config that resumes it.

Everything else shapes the optimisation itself (batch order, optimizer state, learning-rate schedule), so a
resumed run with a different value would silently be a different experiment.
"""

_DEVICE = re.compile(r"auto|cpu|mps|cuda(:\d+)?")


@dataclass
class TrainConfig:
    """How :func:`seedlens.training.train` optimises a model.

    Attributes:
        epochs: Passes over the dataset. May be raised when resuming to train longer.
        dataset_repeats: Times each epoch goes through the dataset, reshuffled as one set: a small dataset
            repeated within an epoch gets more steps per epoch without stretching a per-epoch schedule. Part of
            the run: a resume must keep it.
        batch_size: Samples per step *per process*; under torchrun the global batch is
            ``batch_size * WORLD_SIZE``.
        optimizer: ``"adam"``, ``"adamw"`` or ``"sgd"`` (SGD uses Nesterov momentum 0.9).
        lr: Initial learning rate.
        backbone_lr: Initial learning rate of the model's ``backbone`` (a pretrained feature extractor fine-tuned
            more gently than the new head); None: ``lr`` for every parameter. Frozen parameters
            (``requires_grad=False``) are never optimised.
        weight_decay: L2 penalty (decoupled for ``"adamw"``).
        lr_decay: Learning rate multiplier applied after every epoch (exponential decay); 1.0 keeps it constant.
        milestones: Epochs after which the learning rate is multiplied by 0.1 (step decay). Use either
            ``milestones`` or ``lr_decay``, not both.
        amp: Mixed precision. Only takes effect on CUDA: bf16 autocast where the GPU supports it, else fp16
            autocast with a gradient scaler. Ignored on CPU and MPS.
        device: ``"auto"`` (CUDA if available, else CPU), ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"mps"``.
            Under torchrun, ``"auto"``/``"cuda"`` mean ``cuda:LOCAL_RANK``.
        seed: Seeds weights-independent randomness: batch order, the step's generator, global RNGs.
        num_workers: DataLoader worker processes (0 loads in the training process).
        grad_clip: Maximum global gradient norm, or None for no clipping.
        hold_data: Keep the whole dataset on the training device and index batches there, with no DataLoader:
            ``"auto"`` when the dataset can give all its items as stacked tensors (``stacked()``: e.g. whole
            samples, not random patches) and they take at most :data:`HOLD_LIMIT_BYTES` (on CUDA also at most a
            quarter of the free device memory); ``"always"`` whenever the dataset can; ``"never"``. The batches
            are the ones the DataLoader would make, in the same order, so the results do not change.
    """

    epochs: int = 50
    dataset_repeats: int = 1
    batch_size: int = 32
    optimizer: str = "adam"
    lr: float = 1e-3
    backbone_lr: float | None = None
    weight_decay: float = 1e-6
    lr_decay: float = 1.0
    milestones: tuple[int, ...] = ()
    amp: bool = True
    device: str = "auto"
    seed: int = 0
    num_workers: int = 0
    grad_clip: float | None = None
    hold_data: str = "auto"


#: Largest dataset ``hold_data="auto"`` keeps on the training device.
HOLD_LIMIT_BYTES = 2 * 2**30

HOLD_DATA = ("auto", "always", "never")


def _int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value == value  # not NaN


def _milestones(value: Any) -> bool:
    if not isinstance(value, tuple) or not all(_int(v) and v >= 1 for v in value):
        return False
    return list(value) == sorted(set(value))


RULES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "epochs": (lambda v: _int(v) and v >= 1, "an integer >= 1"),
    "dataset_repeats": (lambda v: _int(v) and v >= 1, "an integer >= 1"),
    "batch_size": (lambda v: _int(v) and v >= 1, "an integer >= 1"),
    "optimizer": (lambda v: v in OPTIMIZERS, f"one of {', '.join(map(repr, OPTIMIZERS))}"),
    "lr": (lambda v: _number(v) and 0 < v < float("inf"), "a finite number > 0"),
    "backbone_lr": (lambda v: v is None or (_number(v) and 0 < v < float("inf")), "None or a finite number > 0"),
    "weight_decay": (lambda v: _number(v) and 0 <= v < float("inf"), "a finite number >= 0"),
    "lr_decay": (lambda v: _number(v) and 0 < v <= 1, "a number in (0, 1]"),
    "milestones": (_milestones, "a strictly increasing tuple of epochs >= 1"),
    "amp": (lambda v: isinstance(v, bool), "True or False"),
    "device": (lambda v: isinstance(v, str) and _DEVICE.fullmatch(v) is not None, "auto, cpu, mps, cuda or cuda:N"),
    "seed": (lambda v: _int(v) and v >= 0, "an integer >= 0"),
    "num_workers": (lambda v: _int(v) and v >= 0, "an integer >= 0"),
    "grad_clip": (lambda v: v is None or (_number(v) and 0 < v < float("inf")), "None or a finite number > 0"),
    "hold_data": (lambda v: v in HOLD_DATA, f"one of {', '.join(map(repr, HOLD_DATA))}"),
}
"""Field name -> (check, what is allowed). Every field of :class:`TrainConfig` has one rule."""


def validate(config: TrainConfig) -> TrainConfig:
    """Check every field of ``config`` and return it unchanged.

    Raises:
        ConfigError: a field has a bad value; the message names the field, the value and what is allowed.
    """
    if not isinstance(config, TrainConfig):
        raise ConfigError(f"config must be a TrainConfig; got {type(config).__name__}")
    for field in fields(config):
        check, allowed = RULES[field.name]
        value = getattr(config, field.name)
        if not check(value):
            raise ConfigError(f"TrainConfig.{field.name} must be {allowed}; got {value!r}")
    if config.milestones and config.lr_decay != 1.0:
        raise ConfigError(
            f"TrainConfig.milestones={config.milestones!r} and lr_decay={config.lr_decay!r} both set a schedule; "
            "use milestones (step decay) or lr_decay (exponential decay), not both"
        )
    return config
