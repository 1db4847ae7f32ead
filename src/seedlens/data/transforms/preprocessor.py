"""The preprocessing a detector applies to every sample, fitted on training data and saved with the model."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import torch

from seedlens.data.transforms.foreground import object_mask
from seedlens.data.transforms.functional import contrast_normalize, equalize, resize, to_channels
from seedlens.data.transforms.geometry import Geometry, mask_on_grid, pad_end, plan_geometry
from seedlens.data.transforms.intensity import ForegroundStats, IntensityMap
from seedlens.errors import ConfigError, NotFittedError, ShapeError, UnknownNameError

__all__ = ["INTENSITIES", "Preprocessor"]

#: Intensity normalisations a :class:`Preprocessor` knows.
INTENSITIES: tuple[str, ...] = ("contrast", "minmax", "zscore", "foreground", "window", "equalize", "none")


@dataclass
class Preprocessor:
    """Channels, grid (spacing, size) and intensity normalisation of one sample, in that order; float32 out.

    1. ``channels``: :func:`to_channels` (grey <-> RGB), if set.
    2. The grid (:func:`~seedlens.data.transforms.geometry.plan_geometry`): resampled (linear) to the physical voxel
       size ``spacing`` when set (a sample without spacing counts as isotropic), then fitted into ``size`` when
       set — stretched to it, or with ``keep_aspect`` scaled so its long side fits and padded at the end of the
       other axes with the sample's minimum. One interpolation does both.
    3. ``intensity``, per channel ``clip(x, low, high) * scale + offset`` (:class:`IntensityMap`):

       * ``"contrast"``: :func:`contrast_normalize` per sample, then min-max scaled with the minimum and
         maximum over the contrast-normalised training samples, so outputs land in about [0, 1] (FCDD).
       * ``"minmax"``: scaled with the minimum and maximum of the training samples.
       * ``"zscore"``: per channel (band) with the training mean and standard deviation.
       * ``"foreground"``: standardised with the mean and standard deviation of the training samples' foreground
         (their object masks, or :func:`~seedlens.data.transforms.foreground.object_mask`) and clipped to its 0.5
         and 99.5 percentiles widened by half their range on each side — nnU-Net's rule for CT, with room kept
         for anomalies more extreme than normal tissue (air in a void, metal). The scaling depends on the object,
         not on the field of view (air, table, padding outside it), so a scan from another scanner or field of
         view is scaled alike, and extreme values are bounded.
       * ``"window"``: :func:`window` with ``window=(level, width)`` (e.g. CT HU); nothing to fit.
       * ``"equalize"``: :func:`equalize` per sample (histogram equalisation to [0, 1]); nothing to fit.
       * ``"none"``: values unchanged.

    Configuration is checked when the object is made; statistics come from :meth:`fit`. The fitted statistics
    (fields ending in ``_``) travel with :meth:`to_dict`, so a saved model reproduces its preprocessing exactly.

    Attributes:
        size: Output spatial size, ``(H, W)`` or ``(D, H, W)``, or None to keep the (resampled) size.
        channels: Output channel count, or None to keep.
        intensity: One of :data:`INTENSITIES`.
        window: ``(level, width)`` for ``intensity="window"``.
        spacing: Voxel size to resample to, one value per spatial axis, or None to keep each sample's grid.
        keep_aspect: With ``size``: keep the aspect ratio (scale the long side, pad the others) instead of
            stretching every axis.
        lo_: Fitted value mapped to 0 (``"contrast"``, ``"minmax"``).
        hi_: Fitted value mapped to 1 (``"contrast"``, ``"minmax"``).
        mean_: Fitted per-channel means (``"zscore"``, ``"foreground"``).
        std_: Fitted per-channel standard deviations (``"zscore"``, ``"foreground"``).
        clip_low_: Fitted per-channel lower clipping bounds (``"foreground"``).
        clip_high_: Fitted per-channel upper clipping bounds (``"foreground"``).
    """

    size: tuple[int, ...] | None = None
    channels: int | None = None
    intensity: str = "none"
    window: tuple[float, float] | None = None
    spacing: tuple[float, ...] | None = None
    keep_aspect: bool = False
    lo_: float | None = None
    hi_: float | None = None
    mean_: tuple[float, ...] | None = None
    std_: tuple[float, ...] | None = None
    clip_low_: tuple[float, ...] | None = None
    clip_high_: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        if self.intensity not in INTENSITIES:
            raise UnknownNameError(f"unknown intensity {self.intensity!r}; expected one of: {', '.join(INTENSITIES)}")
        if self.size is not None:
            self.size = tuple(int(s) for s in self.size)
            if len(self.size) not in (2, 3) or any(s <= 0 for s in self.size):
                raise ConfigError(f"size must be 2 or 3 positive integers (H, W) or (D, H, W); got {self.size}")
        if self.spacing is not None:
            self.spacing = tuple(float(s) for s in self.spacing)
            if len(self.spacing) not in (2, 3) or not all(math.isfinite(s) and s > 0 for s in self.spacing):
                raise ConfigError(f"spacing must be 2 or 3 positive numbers, one per spatial axis; got {self.spacing}")
        if self.size is not None and self.spacing is not None and len(self.size) != len(self.spacing):
            raise ConfigError(f"size {self.size} and spacing {self.spacing} must have one value per spatial axis")
        if self.channels is not None and int(self.channels) <= 0:
            raise ConfigError(f"channels must be a positive integer or None; got {self.channels}")
        if self.window is not None:
            level, width = (float(v) for v in self.window)
            if not width > 0:
                raise ConfigError(f"window must be (level, width) with width > 0; got {self.window}")
            self.window = (level, width)
        if self.intensity == "window" and self.window is None:
            raise ConfigError("intensity='window' needs window=(level, width), e.g. (-600, 1500) for lung CT")
        for name in ("mean_", "std_", "clip_low_", "clip_high_"):
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
        if self.intensity == "foreground":
            return None not in (self.mean_, self.std_, self.clip_low_, self.clip_high_)
        return True

    def fit(self, samples: Iterable[Any], seed: int = 0) -> Preprocessor:
        """Compute the statistics the intensity normalisation needs, in one pass, one sample in memory at a time.

        Args:
            samples: Training samples: arrays ``(C, *spatial)`` (numpy or torch), or loaded samples with
                ``.array``, ``.meta.spacing`` and ``.object_mask`` (:class:`~seedlens.data.LoadedSample`), whose
                spacing is then resampled and whose object mask is the foreground.
            seed: Seed of the foreground voxels drawn for ``"foreground"``.

        Returns:
            ``self``.

        Raises:
            ConfigError: when ``samples`` is empty, or constant where a range is needed.
            ShapeError: when channel counts differ between samples for ``"zscore"`` / ``"foreground"``.
        """
        fitter = self.fitter(seed)
        for item in samples:
            array, spacing, given_mask = unpack_sample(item)
            x, geometry = self.resample(array, spacing)
            fitter.add(x, self.foreground(x, given_mask, geometry) if self.intensity == "foreground" else None)
        return fitter.finish()

    def fitter(self, seed: int = 0) -> IntensityFitter:
        """An accumulator that fits this preprocessor's intensity statistics one resampled sample at a time."""
        return IntensityFitter(self, seed)

    def foreground(self, x: np.ndarray, given: np.ndarray | None, geometry: Geometry) -> np.ndarray:
        """The object of a resampled, unpadded sample ``x``: bool ``(*geometry.resampled_shape)``.

        Its ``given`` object mask brought onto that grid, else
        :func:`~seedlens.data.transforms.foreground.object_mask`.
        """
        if given is None:
            return object_mask(x)
        unpadded = Geometry(geometry.input_shape, geometry.input_spacing, geometry.resampled_shape,
                            geometry.resampled_shape, geometry.spacing_known)
        return mask_on_grid(given, unpadded)

    # ------------------------------------------------------------------------------------------- applying

    def geometry(self, input_shape: tuple[int, ...], spacing: tuple[float, ...] | None = None) -> Geometry:
        """The grid mapping of a sample of spatial shape ``input_shape`` and voxel size ``spacing`` (None: unknown)."""
        return plan_geometry(input_shape, spacing, self.spacing, self.size, self.keep_aspect)

    def resample(
        self, array: np.ndarray | torch.Tensor, spacing: tuple[float, ...] | None = None
    ) -> tuple[np.ndarray, Geometry]:
        """Channels and grid of one sample, before padding and intensity: a new float32 array and its geometry."""
        original = array.detach().cpu().numpy() if isinstance(array, torch.Tensor) else np.asarray(array)
        x = original
        if x.ndim not in (3, 4):
            raise ShapeError(f"Preprocessor: sample must be (C, H, W) or (C, D, H, W); got shape {x.shape}")
        if self.size is not None and len(self.size) != x.ndim - 1:
            raise ShapeError(f"Preprocessor: size {self.size} does not fit a sample of shape {x.shape}")
        geometry = self.geometry(tuple(x.shape[1:]), spacing)
        x = np.ascontiguousarray(x, dtype=np.float32)  # one copy at most (a memory map's transposed view, ints)
        if self.channels is not None:
            x = to_channels(x, self.channels)
        if geometry.resampled_shape != geometry.input_shape:
            x = resize(x, geometry.resampled_shape, mode="linear")
        if self.intensity == "equalize":
            x = equalize(x)
        if np.may_share_memory(x, original):  # the caller's array (or a file's memory map) is never written to
            x = np.array(x, dtype=np.float32)
        return x, geometry

    def prepare(
        self, array: np.ndarray | torch.Tensor, spacing: tuple[float, ...] | None = None,
        pad_to: tuple[int, ...] | None = None,
    ) -> tuple[np.ndarray, IntensityMap, Geometry]:
        """Everything but the intensity map: ``(x, intensity, geometry)`` with ``x`` on the detector's grid.

        ``intensity(x)`` gives what :meth:`__call__` returns. Storing ``x`` and the small ``intensity`` map apart
        lets a patch of ``x`` be normalised on its own, exactly as the whole sample would be. ``pad_to`` pads
        further (at the end of each axis, with the sample's minimum), e.g. to a multiple of a network's stride.
        """
        if not self.is_fitted:
            raise NotFittedError(
                f"Preprocessor with intensity={self.intensity!r} must be fitted before use; call fit()"
            )
        x, geometry = self.resample(array, spacing)
        intensity = self.intensity_map(x.shape[0], self.sample_stats(x))
        return self.pad(x, geometry, pad_to), intensity, geometry

    def pad(self, x: np.ndarray, geometry: Geometry, pad_to: tuple[int, ...] | None = None) -> np.ndarray:
        """A resampled sample padded at its axes' ends with its minimum to ``geometry.output_shape`` (or more)."""
        shape = geometry.output_shape
        if pad_to is not None:
            shape = tuple(max(n, int(p)) for n, p in zip(shape, pad_to, strict=True))
        if shape == geometry.resampled_shape:
            return x
        return pad_end(x, shape, float(x.min()))

    def sample_stats(self, x: np.ndarray) -> tuple[float, float] | None:
        """What the intensity rule needs of the sample itself: ``(mean, mean absolute deviation)`` for contrast."""
        if self.intensity != "contrast":
            return None
        centre = float(x.mean())
        return centre, float(np.abs(x - centre).mean())

    def intensity_map(self, channels: int, stats: tuple[float, float] | None = None) -> IntensityMap:
        """The intensity normalisation of a sample of ``channels`` channels and :meth:`sample_stats` ``stats``."""
        c = int(channels)
        if self.intensity == "contrast":
            assert self.lo_ is not None and self.hi_ is not None and stats is not None
            centre, spread = stats
            span = self.hi_ - self.lo_
            if spread > 0:
                return IntensityMap.affine(1.0 / (spread * span), (-centre / spread - self.lo_) / span, c)
            return IntensityMap.affine(0.0, -self.lo_ / span, c)
        if self.intensity == "minmax":
            assert self.lo_ is not None and self.hi_ is not None
            return IntensityMap.affine(1.0 / (self.hi_ - self.lo_), -self.lo_ / (self.hi_ - self.lo_), c)
        if self.intensity in ("zscore", "foreground"):
            assert self.mean_ is not None and self.std_ is not None
            if c != len(self.mean_):
                raise ShapeError(f"Preprocessor was fitted on {len(self.mean_)} channels; got a sample of {c}")
            scale = tuple(1.0 / s for s in self.std_)
            offset = tuple(-m / s for m, s in zip(self.mean_, self.std_, strict=True))
            if self.intensity == "zscore":
                return IntensityMap((-math.inf,) * c, (math.inf,) * c, scale, offset)
            assert self.clip_low_ is not None and self.clip_high_ is not None
            return IntensityMap(self.clip_low_, self.clip_high_, scale, offset)
        if self.intensity == "window":
            assert self.window is not None
            level, width = self.window
            low = level - width / 2.0
            return IntensityMap.affine(1.0 / width, -low / width, c, low=low, high=low + width)
        return IntensityMap.affine(1.0, 0.0, c)

    def __call__(self, array: np.ndarray | torch.Tensor, spacing: tuple[float, ...] | None = None,
                 pad_to: tuple[int, ...] | None = None) -> np.ndarray:
        """Preprocess one sample.

        Args:
            array: ``(C, H, W)`` or ``(C, D, H, W)``, numpy or torch.
            spacing: The sample's voxel size per spatial axis (None: unknown, taken as isotropic); only used when
                the preprocessor resamples to a ``spacing``.
            pad_to: Pad further at the end of each axis (with the sample's minimum, before the intensity map) to
                at least this spatial shape.

        Returns:
            ``(channels or C, *grid)`` float32 numpy array, ``grid`` = :meth:`geometry` ``.output_shape`` (padded
            to ``pad_to``).

        Raises:
            NotFittedError: when the intensity normalisation needs statistics and :meth:`fit` was not called.
            ShapeError: for a wrong layout or channel count.
        """
        x, intensity, _ = self.prepare(array, spacing, pad_to)
        x = np.ascontiguousarray(x, dtype=np.float32)
        return intensity(x, out=x)

    def output_shape(self, input_shape: tuple[int, ...], spacing: tuple[float, ...] | None = None) -> tuple[int, ...]:
        """The shape :meth:`__call__` returns for an input of ``input_shape`` ``(C, *spatial)``."""
        c = self.channels if self.channels is not None else input_shape[0]
        return (c, *self.geometry(tuple(input_shape[1:]), spacing).output_shape)

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
        for name in ("size", "window", "spacing", "mean_", "std_", "clip_low_", "clip_high_"):
            if values.get(name) is not None:
                values[name] = tuple(values[name])
        return cls(**values)


def unpack_sample(item: Any) -> tuple[Any, tuple[float, ...] | None, np.ndarray | None]:
    """``(array, spacing, object mask)`` of an array or a loaded sample."""
    if hasattr(item, "array"):
        meta = getattr(item, "meta", None)
        return item.array, getattr(meta, "voxel_size", None), getattr(item, "object_mask", None)
    return item, None, None


class IntensityFitter:
    """Fits a :class:`Preprocessor`'s intensity statistics from resampled samples added one at a time."""

    def __init__(self, preprocessor: Preprocessor, seed: int = 0) -> None:
        self.preprocessor = preprocessor
        self.lo, self.hi = math.inf, -math.inf
        self.count: np.ndarray | None = None
        self.mean: np.ndarray | None = None
        self.m2: np.ndarray | None = None
        self.foreground = ForegroundStats(seed)
        self.channels = 0
        self.n = 0

    def add(self, x: np.ndarray, objects: np.ndarray | None = None) -> None:
        """Add one sample ``x`` as :meth:`Preprocessor.resample` returned it.

        ``objects`` is its object mask on that grid (:meth:`Preprocessor.foreground`); found here when None and the
        rule needs it.
        """
        intensity = self.preprocessor.intensity
        self.n += 1
        if self.n > 1 and intensity in ("zscore", "foreground") and x.shape[0] != self.channels:
            raise ShapeError(f"fit: sample {self.n - 1} has {x.shape[0]} channels; earlier samples {self.channels}")
        self.channels = int(x.shape[0])
        if intensity in ("contrast", "minmax"):
            values = contrast_normalize(x) if intensity == "contrast" else x
            self.lo, self.hi = min(self.lo, float(values.min())), max(self.hi, float(values.max()))
        elif intensity == "foreground":
            self.foreground.add(x, objects if objects is not None else object_mask(x))
        elif intensity == "zscore":
            flat = x.reshape(x.shape[0], -1).astype(np.float64)
            c_n = np.full(flat.shape[0], flat.shape[1], dtype=np.float64)
            c_mean = flat.mean(axis=1)
            c_m2 = ((flat - c_mean[:, None]) ** 2).sum(axis=1)
            if self.count is None or self.mean is None or self.m2 is None:
                self.count, self.mean, self.m2 = c_n, c_mean, c_m2
                return
            # Chan et al.'s pairwise update: stable where HU-scale offsets make sum-of-squares cancel.
            total = self.count + c_n
            delta = c_mean - self.mean
            self.mean = self.mean + delta * c_n / total
            self.m2 = self.m2 + c_m2 + delta**2 * self.count * c_n / total
            self.count = total

    def finish(self) -> Preprocessor:
        """Store the statistics in the preprocessor and return it.

        Raises:
            ConfigError: no sample was added, or the values are constant where a range is needed.
        """
        pre = self.preprocessor
        if self.n == 0:
            raise ConfigError("Preprocessor.fit needs at least one array; got none")
        if pre.intensity in ("contrast", "minmax"):
            if not self.hi > self.lo:
                raise ConfigError(f"Preprocessor.fit: training values are constant ({self.lo}); cannot scale them")
            pre.lo_, pre.hi_ = self.lo, self.hi
        elif pre.intensity == "zscore" and self.count is not None and self.mean is not None and self.m2 is not None:
            std = np.sqrt(self.m2 / self.count)
            pre.mean_ = tuple(float(v) for v in self.mean)
            pre.std_ = tuple(float(v) if v > 0 else 1.0 for v in std)  # a constant band is only centred
        elif pre.intensity == "foreground":
            pre.clip_low_, pre.clip_high_, pre.mean_, pre.std_ = self.foreground.result()
        return pre
