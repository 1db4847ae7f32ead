"""Where the windows of a sliding-window pass go, and which cells of a window's score map can be trusted."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import product

from seedlens.errors import ConfigError
from seedlens.models.receptive_field import ReceptiveField

__all__ = ["CellLayout", "axis_starts", "round_up", "window_positions"]


def round_up(value: int, multiple: int) -> int:
    """The smallest multiple of ``multiple`` that is at least ``value``."""
    return -(-int(value) // int(multiple)) * int(multiple)


def axis_starts(size: int, window: int, step: int) -> list[int]:
    """Window starts along one axis of ``size``: ``0, step, 2 step, ...`` and a last one ending at ``size``.

    Raises:
        ConfigError: ``window`` exceeds ``size`` or ``step`` is not positive.
    """
    if window > size:
        raise ConfigError(f"window {window} is larger than the axis it slides along ({size})")
    if step < 1:
        raise ConfigError(f"window step must be at least 1; got {step}")
    starts = list(range(0, size - window + 1, step))
    if starts[-1] != size - window:
        starts.append(size - window)
    return starts


def window_positions(shape: Sequence[int], window: Sequence[int], steps: Sequence[int]) -> list[tuple[int, ...]]:
    """Every window start (one per axis) of a sliding window over ``shape``, in C order."""
    axes = [axis_starts(s, w, t) for s, w, t in zip(shape, window, steps, strict=True)]
    return list(product(*axes))


@dataclass(frozen=True)
class CellLayout:
    """Where the cells of a fully convolutional score map sit in its input, and which are free of border effects.

    Cell ``o`` of the map is centred at input position ``o * jump + shift`` and depends on the ``extent`` input
    positions around it. Inside a window (not the whole input) a cell whose receptive field reaches past the window
    border sees the network's zero padding instead of the neighbouring input: only the cells whose receptive field
    lies wholly inside the window are *valid*. Stitching valid cells of windows placed every ``jump`` multiple gives
    exactly the map of one pass over the whole input.

    Attributes:
        jump: Input positions between neighbouring cells (the network's total stride).
        shift: Input position of cell 0's centre.
        extent: Receptive-field size in input positions.
    """

    jump: int
    shift: float
    extent: float

    @classmethod
    def of(cls, receptive_field: ReceptiveField) -> CellLayout:
        """The layout of a network with this receptive field (jump rounded to an integer, at least 1)."""
        return cls(max(1, round(receptive_field.jump)), float(receptive_field.shift), float(receptive_field.extent))

    @property
    def halo(self) -> float:
        """Half the receptive field: how far a cell looks from its centre."""
        return (self.extent - 1) / 2

    def valid_cells(self, window: int, cells: int) -> tuple[int, int]:
        """First and last valid cell (inclusive) of a window of ``window`` positions and ``cells`` map cells."""
        first = max(0, math.ceil((self.halo - self.shift) / self.jump - 1e-9))
        last = min(cells - 1, math.floor((window - 1 - self.halo - self.shift) / self.jump + 1e-9))
        return first, last

    def min_window(self) -> int:
        """The smallest window (a multiple of ``jump``) with at least two valid cells."""
        window = round_up(max(self.jump, math.ceil(self.extent)), self.jump)
        while True:
            first, last = self.valid_cells(window, window // self.jump)
            if last - first + 1 >= 2:
                return window
            window += self.jump
