"""Receptive field of an existing network, found by watching which convolutions and pools a forward pass runs.

Used for networks not built with :class:`~seedlens.models.layers.FeatureBuilder` (e.g. a pretrained
EfficientNet): forward hooks record every convolution, pooling and explicit padding layer in the order they
run, and the :class:`~seedlens.models.receptive_field.ReceptiveField` arithmetic is applied along that chain.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from seedlens.errors import ConfigError
from seedlens.models.receptive_field import ReceptiveField

_CONV = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
_POOL = (nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d, nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d)
_PAD = (
    nn.ZeroPad1d,
    nn.ZeroPad2d,
    nn.ZeroPad3d,
    nn.ConstantPad1d,
    nn.ConstantPad2d,
    nn.ConstantPad3d,
    nn.ReflectionPad1d,
    nn.ReflectionPad2d,
    nn.ReflectionPad3d,
    nn.ReplicationPad1d,
    nn.ReplicationPad2d,
    nn.ReplicationPad3d,
)
_UNSUPPORTED = (
    nn.ConvTranspose1d,
    nn.ConvTranspose2d,
    nn.ConvTranspose3d,
    nn.AdaptiveAvgPool1d,
    nn.AdaptiveAvgPool2d,
    nn.AdaptiveAvgPool3d,
    nn.AdaptiveMaxPool1d,
    nn.AdaptiveMaxPool2d,
    nn.AdaptiveMaxPool3d,
    nn.Upsample,
)


def _isotropic(name: str, module: nn.Module, value: int | Sequence[int]) -> int:
    """Return the one value of an isotropic int-or-tuple layer attribute."""
    values = [int(v) for v in value] if isinstance(value, Sequence) else [int(value)]
    if len(set(values)) != 1:
        raise ConfigError(f"receptive-field tracing needs isotropic layers; {module} has {name}={tuple(values)}")
    return values[0]


def _leading_padding(module: nn.Module) -> int:
    """Leading (left/top/front) padding of an explicit padding layer, the same on every axis."""
    raw: Any = module.padding
    pad = tuple(raw) if isinstance(raw, Sequence) else (raw,)
    leading = pad[0::2]  # torch pads are (last_lo, last_hi, prev_lo, prev_hi, ...)
    return _isotropic("leading padding", module, leading)


def _layer_rf(rf: ReceptiveField, module: nn.Module) -> ReceptiveField:
    """Receptive field after ``module``."""
    if isinstance(module, _PAD):
        return rf.after(1, 1, _leading_padding(module))
    if isinstance(module, _CONV):
        if isinstance(module.padding, str):
            raise ConfigError(f"receptive-field tracing needs numeric padding; {module} has padding={module.padding!r}")
        return rf.after(
            _isotropic("kernel_size", module, module.kernel_size),
            _isotropic("stride", module, module.stride),
            _isotropic("padding", module, module.padding),
            _isotropic("dilation", module, module.dilation),
        )
    # Pools; ceil_mode only adds a partial window on the trailing side, so cell centres are unchanged.
    return rf.after(
        _isotropic("kernel_size", module, module.kernel_size),  # type: ignore[arg-type]
        _isotropic("stride", module, module.stride),  # type: ignore[arg-type]
        _isotropic("padding", module, module.padding),  # type: ignore[arg-type]
        _isotropic("dilation", module, getattr(module, "dilation", 1)),
    )


def trace_receptive_field(network: nn.Module, example: torch.Tensor) -> ReceptiveField:
    """Return the receptive field of ``network``'s output by tracing one forward pass on ``example``.

    The convolutions, poolings and explicit padding layers that run are chained in call order. This is exact
    for a chain of layers, and stays exact with residual connections around stride-1, centred ("same") blocks,
    as in ResNets and MobileNets; a network with parallel branches of different geometry is not a chain.

    Args:
        network: Any module; it is run once in eval mode under ``torch.no_grad`` (its mode is restored).
        example: An input batch, e.g. ``(1, C, 64, 64)``; only layer order matters, not the values.

    Returns:
        Extent, jump and shift of one output cell in input pixels.

    Raises:
        ConfigError: a layer is anisotropic, uses string padding, or cannot be described by the arithmetic
            (transposed convs, adaptive pools, upsampling).
    """
    calls: list[nn.Module] = []

    def hook(module: nn.Module, _inputs: object, _output: object) -> None:
        calls.append(module)

    handles = [
        m.register_forward_hook(hook) for m in network.modules() if isinstance(m, _CONV + _POOL + _PAD + _UNSUPPORTED)
    ]
    was_training = network.training
    try:
        network.eval()
        with torch.no_grad():
            network(example)
    finally:
        network.train(was_training)
        for handle in handles:
            handle.remove()
    rf = ReceptiveField()
    for module in calls:
        if isinstance(module, _UNSUPPORTED):
            raise ConfigError(f"receptive-field tracing cannot describe {type(module).__name__} layers")
        rf = _layer_rf(rf, module)
    return rf
