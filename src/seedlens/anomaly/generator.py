"""The anomaly-generator protocol: a transform from one normal sample to an anomalous one and its mask."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch
from torch import Tensor


@runtime_checkable
class AnomalyGenerator(Protocol):
    """Anything called as ``generator(x, torch_generator) -> (x', mask)`` on one sample.

    ``x`` is ``(C, *spatial)`` (``(C, H, W)``, ``(C, D, H, W)`` or a cube ``(bands, H, W)``); ``x'`` has the
    same shape, dtype and device, and ``mask`` is ``(1, *spatial)`` float with 1 where ``x'`` is anomalous.
    Confetti noise and Outlier Exposure samplers implement it.
    """

    def __call__(self, x: Tensor, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        """Return the anomalous version of ``x`` and its ``(1, *spatial)`` mask."""
        ...
