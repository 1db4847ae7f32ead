"""The preprocessing a detector applies to every sample, fitted on training data and saved with the model."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import torch

from seedlens.data.transforms.functional import (
    contrast_normalize,
    equalize,
    minmax,
    resize,
    to_channels,
    window,
    zscore,
)
from seedlens.errors import ConfigError, NotFittedError, ShapeError, UnknownNameError

__all__ = ["INTENSITIES", "Preprocessor"]

#: Intensity normalisations a :class:`Preprocessor` knows.
INTENSITIES: tuple[str, ...] = ("contrast", "minmax", "zscore", "window", "equalize", "none")


@dataclass
class Preprocessor:
    """Channels, size and intensity normalisation of one sample, in that order; float32 out.

    1. ``channels``: :func:`to_channels` (grey <-> RGB), if set.
    2. ``size``: :func:`resize` with ``"linear"`` to ``(H, W)`` or ``(D, H, W)``, if set.
    3. ``intensity``:

       * ``"contrast"``: :func:`contrast_normalize` per sample, then min-max scaled with the minimum and
         maximum over the contrast-normalised training samples, so outputs land in about [0, 1] (FCDD).
       * ``"minmax"``: scaled with the minimum and maximum of the training samples.
       * ``"zscore"``: per channel (band) with the training mean and standard deviation.
       * ``"window"``: :func:`window` with ``window=(level, width)`` (e.g. CT HU); nothing to fit.
       * ``"equalize"``: :func:`equalize` per sample (histogram equalisation to [0, 1]); nothing to fit.
       * ``"none"``: values unchanged.

    Configuration is checked when the object is made; statistics come from :meth:`fit`. The fitted
    statistics (fields ending in ``_``) travel with :meth:`to_dict`, so a saved model reproduces its
    preprocessing exactly.

    Attributes:
        size: Output spatial size, ``(H, W)`` or ``(D, H, W)``, or None to keep the input size.
        channels: Output channel count, or None to keep.
        intensity: One of :data:`INTENSITIES`.
        window: ``(level, width)`` for ``intensity="window"``.
        lo_: Fitted value mapped to 0 (``"contrast"``, ``"minmax"``).
        hi_: Fitted value mapped to 1 (``"contrast"``, ``"minmax"``).
        mean_: Fitted per-channel means (``"zscore"``).
        std_: Fitted per-channel standard deviations (``"zscore"``).
    """

    size: tuple[int, ...] | None = None
    channels: int | None = None
    intensity: str = "none"
    window: tuple[float, float] | None = None
    lo_: float | None = None
    hi_: float | None = None
    mean_: tuple[float, ...] | None = None
    std_: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        if self.intensity not in INTENSITIES:
            raise UnknownNameError(f"unknown intensity {self.intensity!r}; expected one of: {', '.join(INTENSITIES)}")
        if self.size is not None:
            self.size = tuple(int(s) for s in self.size)
            if len(self.size) not in (2, 3) or any(s <= 0 for s in self.size):
                raise ConfigError(f"size must be 2 or 3 positive integers (H, W) or (D, H, W); got {self.size}")
        if self.channels is not None and int(self.channels) <= 0:
            raise ConfigError(f"channels must be a positive integer or None; got {self.channels}")
        if self.window is not None:
            level, width = (float(v) for v in self.window)
            if not width > 0:
                raise ConfigError(f"window must be (level, width) with width > 0; got {self.window}")
            self.window = (level, width)
        if self.intensity == "window" and self.window is None:
            raise ConfigError("intensity='window' needs window=(level, width), e.g. (-600, 1500) for lung CT")
        for name in ("mean_", "std_"):
            value = getattr(self, name)
            if value is not None:
                setattr(self, name, tuple(float(v) for v in value))

    # ------------------------------------------------------------------------------------------- fitting

    @property
    def is_fitted(self) -> bool:
        """Whether the statistics the intensity normalisation needs are present."""
        if self.intensity in ("contrast", "minmax"):
            return self.lo_ is not None and self.hi_ is not None
        if self.intensity == "zscore":
            return self.mean_ is not None and self.std_ is not None
        return True

    def fit(self, arrays: Iterable[np.ndarray | torch.Tensor]) -> Preprocessor:
        """Compute the statistics the intensity normalisation needs, in one pass over ``arrays``.

        Args:
            arrays: Training samples, each ``(C, *spatial)`` (sizes may differ when ``size`` is set).

        Returns:
            ``self``.

        Raises:
            ConfigError: when ``arrays`` is empty, or constant where a range is needed.
            ShapeError: when channel counts differ between samples for ``"zscore"``.
        """
        lo, hi = math.inf, -math.inf
        count: np.ndarray | None = None
        mean: np.ndarray | None = None
        m2: np.ndarray | None = None
        n = 0
        for raw in arrays:
            x = self._shape(raw)
            n += 1
            if self.intensity in ("contrast", "minmax"):
                values = contrast_normalize(x) if self.intensity == "contrast" else x
                lo, hi = min(lo, float(values.min())), max(hi, float(values.max()))
            elif self.intensity == "zscore":
                flat = x.reshape(x.shape[0], -1).astype(np.float64)
                c_n = np.full(flat.shape[0], flat.shape[1], dtype=np.float64)
                c_mean = flat.mean(axis=1)
                c_m2 = ((flat - c_mean[:, None]) ** 2).sum(axis=1)
                if count is None or mean is None or m2 is None:
                    count, mean, m2 = c_n, c_mean, c_m2
                    continue
                if c_mean.shape != mean.shape:
                    raise ShapeError(f"fit: sample {n - 1} has {c_mean.size} channels; earlier samples {mean.size}")
                # Chan et al.'s pairwise update: stable where HU-scale offsets make sum-of-squares cancel.
                total = count + c_n
                delta = c_mean - mean
                mean = mean + delta * c_n / total
                m2 = m2 + c_m2 + delta**2 * count * c_n / total
                count = total
        if n == 0:
            raise ConfigError("Preprocessor.fit needs at least one array; got none")
        if self.intensity in ("contrast", "minmax"):
            if not hi > lo:
                raise ConfigError(f"Preprocessor.fit: training values are constant ({lo}); cannot scale them")
            self.lo_, self.hi_ = lo, hi
        elif self.intensity == "zscore" and count is not None and mean is not None and m2 is not None:
            std = np.sqrt(m2 / count)
            self.mean_ = tuple(float(v) for v in mean)
            self.std_ = tuple(float(v) if v > 0 else 1.0 for v in std)  # a constant band is only centred
        return self

    # ------------------------------------------------------------------------------------------- applying

    def _shape(self, array: np.ndarray | torch.Tensor) -> np.ndarray:
        """Channels and size of one sample, as float32 numpy."""
        x = array.detach().cpu().numpy() if isinstance(array, torch.Tensor) else np.asarray(array)
        if x.ndim not in (3, 4):
            raise ShapeError(f"Preprocessor: sample must be (C, H, W) or (C, D, H, W); got shape {x.shape}")
        x = x.astype(np.float32, copy=False)
        if self.channels is not None:
            x = to_channels(x, self.channels)
        if self.size is not None:
            x = resize(x, self.size, mode="linear")
        return x

    def __call__(self, array: np.ndarray | torch.Tensor) -> np.ndarray:
        """Preprocess one sample.

        Args:
            array: ``(C, H, W)`` or ``(C, D, H, W)``, numpy or torch.

        Returns:
            ``(channels or C, *(size or spatial))`` float32 numpy array.

        Raises:
            NotFittedError: when the intensity normalisation needs statistics and :meth:`fit` was not called.
            ShapeError: for a wrong layout or channel count.
        """
        if not self.is_fitted:
            raise NotFittedError(
                f"Preprocessor with intensity={self.intensity!r} must be fitted before use; call fit()"
            )
        x = self._shape(array)
        if self.intensity == "contrast":
            assert self.lo_ is not None and self.hi_ is not None
            x = minmax(contrast_normalize(x), self.lo_, self.hi_)
        elif self.intensity == "minmax":
            assert self.lo_ is not None and self.hi_ is not None
            x = minmax(x, self.lo_, self.hi_)
        elif self.intensity == "zscore":
            assert self.mean_ is not None and self.std_ is not None
            if x.shape[0] != len(self.mean_):
                raise ShapeError(f"Preprocessor was fitted on {len(self.mean_)} channels; got shape {x.shape}")
            x = zscore(x, self.mean_, self.std_)
        elif self.intensity == "window":
            assert self.window is not None
            x = window(x, *self.window)
        elif self.intensity == "equalize":
            x = equalize(x)
        return np.ascontiguousarray(x, dtype=np.float32)

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        """The shape :meth:`__call__` returns for an input of ``input_shape`` ``(C, *spatial)``."""
        c = self.channels if self.channels is not None else input_shape[0]
        return (c, *(self.size if self.size is not None else input_shape[1:]))

    # ------------------------------------------------------------------------------------------- saving

    def to_dict(self) -> dict[str, Any]:
        """Configuration and fitted statistics as JSON/YAML-ready plain values."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            out[f.name] = list(value) if isinstance(value, tuple) else value
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Preprocessor:
        """Rebuild a preprocessor (fitted or not) from :meth:`to_dict` output.

        Raises:
            ConfigError: for an unknown key (the known keys are listed).
        """
        known = [f.name for f in fields(cls)]
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise ConfigError(f"unknown Preprocessor field(s) {unknown}; known: {', '.join(known)}")
        values = dict(data)
        for name in ("size", "window", "mean_", "std_"):
            if values.get(name) is not None:
                values[name] = tuple(values[name])
        return cls(**values)
