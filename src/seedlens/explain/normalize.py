"""Heatmap normalisation for display: local (each map by its own range) and global (by normal statistics).

* **local** shows *where* within one sample: each map is scaled by its own minimum and its ``quantile``.
* **global** shows *how anomalous*, comparably across samples: every map is scaled by the minimum and the
  ``quantile`` of the pooled pixels of normal validation heatmaps, stored with the model. A pixel at 1 is at
  least as hot as the hottest ``1 - quantile`` share of normal pixels.

Both clip to ``[0, 1]``. Arrays are numpy ``(N, 1, *spatial)`` in and out (float32).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from seedlens.errors import ConfigError, NotFittedError, ShapeError


def _check_maps(maps: Any, dtype: Any = np.float64) -> np.ndarray:
    """Return ``maps`` as an array of ``dtype`` ``(N, 1, *spatial)`` (no copy when it already is) or raise."""
    array = np.asarray(maps, dtype=dtype)
    if array.ndim < 3 or array.shape[1] != 1:
        raise ShapeError(f"heatmaps must be (N, 1, *spatial); got shape {array.shape}")
    if array.shape[0] == 0 or array[0].size == 0:
        raise ShapeError(f"heatmaps must not be empty; got shape {array.shape}")
    if not np.isfinite(array).all():
        raise ShapeError("heatmaps contain NaN or infinite values")
    return array


#: Values of one map a quantile is taken from: a larger map (a 512³ volume) gives a fixed strided subsample.
QUANTILE_VALUES = 2_000_000


def _map_quantile(flat: np.ndarray, q: float) -> float:
    """The ``q`` quantile of one map's values ``(P,)``, from a strided subsample when the map is large."""
    if flat.size > QUANTILE_VALUES:
        flat = flat[:: -(-flat.size // QUANTILE_VALUES)]
    return float(np.quantile(flat.astype(np.float64), q))


def _check_quantile(quantile: float) -> float:
    if isinstance(quantile, bool) or not isinstance(quantile, int | float) or not 0 < quantile <= 1:
        raise ConfigError(f"quantile must be in (0, 1]; got {quantile!r}")
    return float(quantile)


def _scale(array: np.ndarray, low: np.ndarray | float, high: np.ndarray | float) -> np.ndarray:
    """``(array - low) / (high - low)`` clipped to [0, 1] as float32 (one new array); 0 where ``high <= low``."""
    low_a = np.asarray(low, dtype=np.float64)
    span = np.asarray(high, dtype=np.float64) - low_a
    safe = np.where(span > 0, span, 1.0).astype(np.float32)
    out = np.subtract(array, low_a.astype(np.float32), dtype=np.float32)
    out /= safe
    np.clip(out, 0.0, 1.0, out=out)
    if np.any(span <= 0):
        out *= (span > 0).astype(np.float32)
    return out


def normalize_local(maps: Any, quantile: float = 0.97) -> np.ndarray:
    """Scale each heatmap by its own minimum and ``quantile``, clipped to ``[0, 1]``.

    Args:
        maps: Heatmaps ``(N, 1, *spatial)``.
        quantile: Value mapped to 1 (pixels above it saturate). 0.97 by default; FCDD used 0.85 for small
            images and 0.99 for MVTec-AD.

    Returns:
        ``(N, 1, *spatial)`` float32 in ``[0, 1]``; a constant map becomes all zeros.

    Raises:
        ShapeError: ``maps`` is not ``(N, 1, *spatial)``, is empty, or holds NaN/inf.
        ConfigError: ``quantile`` is not in ``(0, 1]``.
    """
    array = _check_maps(maps, dtype=np.float32)
    q = _check_quantile(quantile)
    flat = array.reshape(array.shape[0], -1)
    shape = (array.shape[0],) + (1,) * (array.ndim - 1)
    low = flat.min(axis=1).astype(np.float64).reshape(shape)
    high = np.asarray([_map_quantile(row, q) for row in flat]).reshape(shape)
    return _scale(array, low, high)


@dataclass
class GlobalNormalizer:
    """Scale heatmaps by statistics of normal validation heatmaps, so values compare across samples.

    Fit on heatmaps of *normal* held-out samples; save :meth:`to_dict` with the model.

    Attributes:
        low_: Minimum over all pixels of the normal heatmaps (maps to 0).
        high_: ``quantile_`` of all pixels of the normal heatmaps (maps to 1).
        quantile_: The quantile used by :meth:`fit`.

    Example:
        >>> norm = GlobalNormalizer().fit(val_maps, quantile=0.97)
        >>> shown = norm.transform(test_maps)  # (N, 1, *spatial) in [0, 1]
        >>> GlobalNormalizer.from_dict(norm.to_dict()) == norm
        True
    """

    low_: float | None = None
    high_: float | None = None
    quantile_: float | None = None

    def fit(self, maps: Any, quantile: float = 0.97) -> GlobalNormalizer:
        """Store the minimum and the ``quantile`` of the pooled pixels of normal heatmaps ``(N, 1, *spatial)``.

        Returns:
            self.

        Raises:
            ShapeError: ``maps`` is not ``(N, 1, *spatial)``, is empty, or holds NaN/inf.
            ConfigError: ``quantile`` is not in ``(0, 1]``.
        """
        array = _check_maps(maps)
        q = _check_quantile(quantile)
        self.low_ = float(array.min())
        self.high_ = float(np.quantile(array, q))
        self.quantile_ = q
        return self

    def transform(self, maps: Any) -> np.ndarray:
        """Return ``(maps - low_) / (high_ - low_)`` clipped to ``[0, 1]``, float32 ``(N, 1, *spatial)``.

        Raises:
            NotFittedError: called before :meth:`fit` (or :meth:`from_dict`).
            ShapeError: ``maps`` is not ``(N, 1, *spatial)``.
        """
        if self.low_ is None or self.high_ is None:
            raise NotFittedError("GlobalNormalizer is not fitted; call fit(normal_maps) first")
        return _scale(_check_maps(maps, dtype=np.float32), self.low_, self.high_)

    def to_dict(self) -> dict[str, float]:
        """Return the fitted statistics as a JSON-ready dict ``{"low", "high", "quantile"}``."""
        if self.low_ is None or self.high_ is None or self.quantile_ is None:
            raise NotFittedError("GlobalNormalizer is not fitted; nothing to save")
        return {"low": self.low_, "high": self.high_, "quantile": self.quantile_}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GlobalNormalizer:
        """Rebuild a fitted normaliser from :meth:`to_dict` output.

        Raises:
            ConfigError: a key is missing or a value is not a finite number, or ``high < low``.
        """
        values: dict[str, float] = {}
        for key in ("low", "high", "quantile"):
            if key not in data:
                raise ConfigError(f"GlobalNormalizer dict needs keys low, high, quantile; got {sorted(data)}")
            value = data[key]
            if isinstance(value, bool) or not isinstance(value, int | float) or not np.isfinite(value):
                raise ConfigError(f"GlobalNormalizer {key} must be a finite number; got {value!r}")
            values[key] = float(value)
        if values["high"] < values["low"]:
            raise ConfigError(f"GlobalNormalizer high ({values['high']}) is below low ({values['low']})")
        return cls(low_=values["low"], high_=values["high"], quantile_=_check_quantile(values["quantile"]))
