"""Build the optimizer and the per-epoch learning-rate schedule a :class:`TrainConfig` names."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch.optim.lr_scheduler import ExponentialLR, LRScheduler, MultiStepLR

from seedlens.errors import ConfigError
from seedlens.training.config import OPTIMIZERS, TrainConfig


def parameter_groups(model: torch.nn.Module, config: TrainConfig) -> list[dict[str, Any]]:
    """The trainable parameters of ``model`` as optimizer groups: its ``backbone`` at ``config.backbone_lr``.

    Parameters with ``requires_grad=False`` (frozen stages) are left out. Without ``backbone_lr`` there is one
    group at ``config.lr``.

    Raises:
        ConfigError: ``backbone_lr`` for a model without a ``backbone`` submodule.
    """
    trainable = [p for p in model.parameters() if p.requires_grad]
    if config.backbone_lr is None:
        return [{"params": trainable}]
    backbone = getattr(model, "backbone", None)
    if not isinstance(backbone, torch.nn.Module):
        raise ConfigError(f"backbone_lr={config.backbone_lr} needs a model with a backbone; "
                          f"{type(model).__name__} has none")
    inside = {id(p) for p in backbone.parameters()}
    pretrained = [p for p in trainable if id(p) in inside]
    head = [p for p in trainable if id(p) not in inside]
    groups: list[dict[str, Any]] = []
    if pretrained:
        groups.append({"params": pretrained, "lr": float(config.backbone_lr)})
    if head:
        groups.append({"params": head})
    return groups


def build_optimizer(params: Iterable[Any], config: TrainConfig) -> torch.optim.Optimizer:
    """Return the optimizer named by ``config.optimizer`` over ``params`` (parameters or parameter groups).

    ``"adam"`` and ``"adamw"`` use torch's defaults besides ``lr`` and ``weight_decay``; ``"sgd"`` uses
    Nesterov momentum 0.9.

    Raises:
        ConfigError: the optimizer name is unknown (the message lists the known ones).
    """
    if config.optimizer == "adam":
        return torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay)
    if config.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    if config.optimizer == "sgd":
        return torch.optim.SGD(params, lr=config.lr, weight_decay=config.weight_decay, momentum=0.9, nesterov=True)
    raise ConfigError(f"TrainConfig.optimizer must be one of {', '.join(OPTIMIZERS)}; got {config.optimizer!r}")


def build_scheduler(optimizer: torch.optim.Optimizer, config: TrainConfig) -> LRScheduler:
    """Return the learning-rate schedule, stepped once per epoch.

    ``milestones`` gives step decay (×0.1 after each listed epoch); otherwise the rate is multiplied by
    ``lr_decay`` after every epoch (``lr_decay=1`` keeps it constant).
    """
    if config.milestones:
        return MultiStepLR(optimizer, milestones=list(config.milestones), gamma=0.1)
    return ExponentialLR(optimizer, gamma=config.lr_decay)
