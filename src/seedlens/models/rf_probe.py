"""Measure a network's receptive field empirically, from input gradients, to check the bookkeeping."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from seedlens.errors import ConfigError

_NORMS = (nn.modules.batchnorm._BatchNorm, nn.modules.instancenorm._InstanceNorm, nn.GroupNorm, nn.LayerNorm)
_ACTIVATIONS = (
    nn.ReLU,
    nn.ReLU6,
    nn.LeakyReLU,
    nn.PReLU,
    nn.ELU,
    nn.SELU,
    nn.CELU,
    nn.GELU,
    nn.SiLU,
    nn.Mish,
    nn.Hardswish,
    nn.Hardtanh,
    nn.Hardsigmoid,
    nn.Tanh,
    nn.Sigmoid,
    nn.Softplus,
    nn.modules.dropout._DropoutNd,
)
_MAX_TO_AVG: dict[type[nn.Module], type[nn.Module]] = {
    nn.MaxPool1d: nn.AvgPool1d,
    nn.MaxPool2d: nn.AvgPool2d,
    nn.MaxPool3d: nn.AvgPool3d,
}


@dataclass(frozen=True)
class MeasuredReceptiveField:
    """What :func:`measure_receptive_field` found, per spatial axis.

    Attributes:
        cell: Index of the output cell that was probed.
        extent: Number of input pixels from the first to the last one with a non-zero gradient.
        centre: Midpoint of those pixels (half-integer for even extents).
        clipped: Whether the non-zero region touches the input border (the extent may then be cut short).
    """

    cell: tuple[int, ...]
    extent: tuple[int, ...]
    centre: tuple[float, ...]
    clipped: bool


def _linearised_copy(network: nn.Module) -> nn.Module:
    """Copy in float64 whose gradients are non-zero exactly on the geometric receptive field."""
    probe = copy.deepcopy(network).double().eval()
    for parent in list(probe.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, _NORMS + _ACTIVATIONS):
                setattr(parent, name, nn.Identity())
            elif type(child) in _MAX_TO_AVG:
                dilation: Any = child.dilation
                if (dilation if isinstance(dilation, int) else max(dilation)) != 1:
                    raise ConfigError(f"cannot probe a dilated max-pool: {child}")
                avg = _MAX_TO_AVG[type(child)](
                    child.kernel_size, child.stride, child.padding, ceil_mode=child.ceil_mode
                )
                setattr(parent, name, avg)
    with torch.no_grad():
        for module in probe.modules():
            weight = getattr(module, "weight", None)
            if isinstance(weight, torch.Tensor) and weight.ndim >= 2:
                weight.fill_(1.0 / weight[0].numel())
            bias = getattr(module, "bias", None)
            if isinstance(bias, torch.Tensor):
                bias.zero_()
    return probe


def measure_receptive_field(
    network: nn.Module, input_shape: Sequence[int], cell: Sequence[int] | None = None
) -> MeasuredReceptiveField:
    """Measure which input pixels one output cell depends on, by back-propagating from that cell.

    A float64 copy of the network is *linearised*: norms, activations and dropout become identities, max-pools
    become average pools of the same geometry, and every conv/linear weight is set to ``1 / fan_in`` (biases
    0). Every path from an input pixel to the cell then carries a positive weight, so the input gradient is
    non-zero exactly on the geometric receptive field — the one the arithmetic of
    :class:`~seedlens.models.receptive_field.ReceptiveField` describes (a global operation such as instance
    norm would otherwise make every output depend on every input).

    Args:
        network: Module mapping ``(N, C, *spatial)`` to ``(N, C', *spatial')``; it is not modified.
        input_shape: Shape of the probe input, e.g. ``(1, 3, 96, 96)``; large enough that the receptive field
            of ``cell`` does not reach the border (see ``clipped``).
        cell: Output cell to probe; default the centre cell ``spatial' // 2``.

    Returns:
        Extent and centre of the non-zero input gradient along each spatial axis.
    """
    probe = _linearised_copy(network)
    param = next(probe.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    x = torch.ones(tuple(input_shape), dtype=torch.float64, device=device, requires_grad=True)
    out = probe(x)
    spatial = tuple(out.shape[2:])
    where = tuple(s // 2 for s in spatial) if cell is None else tuple(int(c) for c in cell)
    if len(where) != len(spatial) or any(not 0 <= c < s for c, s in zip(where, spatial, strict=True)):
        raise ConfigError(f"cell {where} is outside the output map of spatial shape {spatial}")
    out[(0, 0, *where)].backward()
    assert x.grad is not None
    grad = x.grad[0].abs().sum(dim=0)  # (*spatial)
    extents, centres, clipped = [], [], False
    for axis in range(grad.ndim):
        others = tuple(a for a in range(grad.ndim) if a != axis)
        profile = grad.sum(dim=others) if others else grad
        nonzero = torch.nonzero(profile > 0).flatten()
        if nonzero.numel() == 0:
            raise ConfigError("the probed output cell does not depend on the input (no non-zero gradient)")
        first, last = int(nonzero[0]), int(nonzero[-1])
        extents.append(last - first + 1)
        centres.append((first + last) / 2)
        clipped = clipped or first == 0 or last == profile.numel() - 1
    return MeasuredReceptiveField(cell=where, extent=tuple(extents), centre=tuple(centres), clipped=clipped)
