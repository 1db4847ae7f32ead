"""Outlier Exposure draws: outliers prepared exactly like a detector's inputs, drawn and augmented in batches.

:class:`OutlierExposure` is an anomaly generator for :class:`~seedlens.anomaly.OnlineReplacement`: each replaced
training sample becomes an outlier of the :class:`~seedlens.anomaly.OutlierSet`, put through the detector's own
preprocessing (channels, voxel size, size, intensity), cut to the training input size and, when the set is
small, strongly augmented (:class:`~seedlens.anomaly.OutlierAugment`), so that one outlier image gives a
different outlier at every draw.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable

import numpy as np
import torch
from torch import Tensor

from seedlens.anomaly.outlier_augment import OutlierAugment
from seedlens.anomaly.outlier_sets import OutlierSet, RawOutlier
from seedlens.errors import ConfigError, ShapeError

__all__ = ["FEW_OUTLIERS", "OutlierExposure", "matched_scaling", "strong_augmentation"]

log = logging.getLogger(__name__)

#: Outlier sets up to this size are strongly augmented by default (``outlier_augment="auto"``): EOE's few-shot regime.
FEW_OUTLIERS = 256
#: Prepared outliers kept in memory (bytes); beyond it they are prepared again when drawn.
CACHE_BYTES = 1 << 30
#: Prepared outliers are held on the training device, stacked, when all have the input size and fit in this many bytes.
HOLD_BYTES = 256 << 20

#: What turns one raw outlier into a preprocessed ``(C, *grid)`` float32 array (the detector's preprocessing).
Prepare = Callable[[np.ndarray, "tuple[float, ...] | None"], np.ndarray]


def matched_scaling(value_range: tuple[float, float]) -> Callable[[np.ndarray], np.ndarray]:
    """The ``match`` rule of outlier values: their own range onto the normal training data's raw ``value_range``.

    The outlier's own range is :func:`~seedlens.data.transforms.unit.to_unit_range`'s (8/16-bit by type, floats in
    [0, 1] as they are, else min-max), so an 8-bit PNG and a 16-bit TIFF of one picture end up alike.
    """
    from seedlens.data.transforms.unit import to_unit_range

    lo, hi = float(value_range[0]), float(value_range[1])
    return lambda a: to_unit_range(np.asarray(a)[None])[0].numpy() * np.float32(hi - lo) + np.float32(lo)


def strong_augmentation(choice: str, count: int) -> bool:
    """Whether ``outlier_augment`` = ``choice`` (``auto`` / ``strong`` / ``none``) augments a set of ``count``."""
    return choice == "strong" or (choice == "auto" and count <= FEW_OUTLIERS)


class OutlierExposure:
    """Outliers as a batched anomaly generator, prepared like the normal samples.

    Args:
        outliers: The outlier set (already the wanted subset).
        prepare: The detector's preprocessing of one raw outlier ``(array, spacing) -> (C, *grid)``.
        input_size: Spatial size of the training inputs; a prepared outlier of another size is cut (or padded with
            its minimum) to it at a random position per draw.
        scaling: Applied to each raw outlier before ``prepare`` (e.g. :func:`matched_scaling`); None: values as read.
        scale_hinted_only: Apply ``scaling`` only to the outliers whose hint is ``match`` (unrelated files), not to
            the data's own samples or arrays in the same set (:meth:`OutlierSet.hint`).
        augment: Strong augmentation of every drawn batch; None: none.
        eager: Prepare every outlier when the generator is made (errors surface before training starts);
            otherwise on first draw. Sets of up to ``4 * FEW_OUTLIERS`` are prepared eagerly by default.

    Raises:
        ShapeError: an outlier cannot be prepared (wrong channel or band count, layout), named.
    """

    def __init__(self, outliers: OutlierSet, prepare: Prepare, input_size: tuple[int, ...],
                 scaling: Callable[[np.ndarray], np.ndarray] | None = None, augment: OutlierAugment | None = None,
                 eager: bool | None = None, scale_hinted_only: bool = False) -> None:
        if not input_size or any(int(s) < 1 for s in input_size):
            raise ConfigError(f"input_size must be positive sizes; got {input_size!r}")
        self.outliers = outliers
        self.prepare = prepare
        self.input_size = tuple(int(s) for s in input_size)
        self.scaling = scaling
        self.scale_hinted_only = scale_hinted_only
        self.augment = augment
        self._cache: dict[int, Tensor] = {}
        self._cached_bytes = 0
        self._held: Tensor | None = None
        if eager if eager is not None else len(outliers) <= 4 * FEW_OUTLIERS:
            for i in range(len(outliers)):
                self.prepared(i)
            self._hold()

    def __len__(self) -> int:
        return len(self.outliers)

    def __repr__(self) -> str:
        return (f"OutlierExposure({len(self)} outliers, input {self.input_size}, "
                f"augment={'strong' if self.augment else 'none'})")

    def prepared(self, index: int) -> Tensor:
        """Outlier ``index`` scaled and preprocessed like the normal samples, ``(C, *grid)`` float32, before cuts."""
        cached = self._cache.get(index)
        if cached is not None:
            return cached
        raw: RawOutlier = self.outliers.load(index)
        scaled = self.scaling is not None and (not self.scale_hinted_only or self.outliers.hint(index) == "match")
        array = self.scaling(raw.array) if self.scaling is not None and scaled else raw.array
        try:
            prepared = self.prepare(array, raw.spacing)
        except ShapeError as error:
            raise ShapeError(f"outlier {raw.name}: {error}") from error
        if prepared.ndim != len(self.input_size) + 1:
            raise ShapeError(f"outlier {raw.name}: prepared to shape {prepared.shape}, expected "
                             f"(C, {', '.join('*' * len(self.input_size))})")
        tensor = torch.from_numpy(np.ascontiguousarray(prepared, dtype=np.float32))
        if self._cached_bytes + tensor.nbytes <= CACHE_BYTES:
            self._cache[index] = tensor
            self._cached_bytes += tensor.nbytes
        return tensor

    def _hold(self) -> None:
        """Stack every prepared outlier when all have the input size and are small (drawn by indexing, on device)."""
        if len(self._cache) != len(self) or self._cached_bytes > HOLD_BYTES:
            return
        fits = all(all(g <= s for g, s in zip(t.shape[1:], self.input_size, strict=True))
                   for t in self._cache.values())
        if fits and len({t.shape[0] for t in self._cache.values()}) == 1:  # smaller ones padded (as a cut would)
            start = torch.zeros(len(self.input_size))
            self._held = torch.stack([self._cut(self._cache[i], start) for i in range(len(self))])

    def __call__(self, x: Tensor, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        """One outlier in place of the sample ``x`` ``(C, *spatial)``: ``(outlier, mask of ones)``."""
        out, masks = self.batch(x[None], generator)
        return out[0], masks[0]

    def batch(self, x: Tensor, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        """Outliers in place of the batch ``x`` ``(N, C, *spatial)``, on its device.

        Returns:
            ``(outliers, masks)``: ``(N, C, *spatial)`` like ``x`` and ``(N, 1, *spatial)`` ones.

        Raises:
            ShapeError: ``x`` is not ``(N, C, *input_size)`` with the outliers' channel count.
        """
        spatial = tuple(int(s) for s in x.shape[2:])
        if spatial != self.input_size:
            raise ShapeError(f"x must be (N, C, {', '.join(map(str, self.input_size))}) for these outliers; "
                             f"got {tuple(x.shape)}")
        n = int(x.shape[0])
        device = generator.device if generator is not None else torch.device("cpu")
        index = torch.randint(len(self), (n,), generator=generator, device=device)
        if self._held is not None:
            if self._held.device != x.device:
                self._held = self._held.to(x.device)
            drawn = self._held[index.to(x.device)]
        else:
            corners = torch.rand((n, len(spatial)), generator=generator, device=device).cpu()
            drawn = torch.stack([self._cut(self.prepared(int(i)), corners[k])
                                 for k, i in enumerate(index.tolist())]).to(x.device)
        if drawn.shape[1] != x.shape[1]:
            raise ShapeError(f"outliers have {drawn.shape[1]} channels but the batch has {x.shape[1]}")
        if self.augment is not None:
            drawn = self.augment(drawn, generator)
        return drawn.to(x.dtype), torch.ones((n, 1, *spatial), dtype=x.dtype, device=x.device)

    def _cut(self, sample: Tensor, corner: Tensor) -> Tensor:
        """``sample (C, *grid)`` cut to the input size at the relative ``corner`` (padded with its minimum)."""
        grid = tuple(sample.shape[1:])
        if grid == self.input_size:
            return sample
        starts = [math.floor(float(f) * (max(g - s, 0) + 1)) for f, g, s in zip(corner, grid, self.input_size,
                                                                                strict=True)]
        starts = [min(a, max(g - s, 0)) for a, g, s in zip(starts, grid, self.input_size, strict=True)]
        piece = sample[(slice(None), *(slice(a, a + s) for a, s in zip(starts, self.input_size, strict=True)))]
        if tuple(piece.shape[1:]) == self.input_size:
            return piece
        out = torch.full((sample.shape[0], *self.input_size), float(sample.min()), dtype=sample.dtype)
        out[(slice(None), *(slice(0, n) for n in piece.shape[1:]))] = piece
        return out
