"""Confetti noise: synthetic local anomalies for FCDD's online supervision, in 2D, 3D and across spectral bands.

Both generators are transforms ``(x, generator) -> (x', mask)`` on one sample and are deterministic for a seeded
``torch.Generator``. Blob sizes, blur and amplitudes are given relative to the sample (fractions of each spatial
axis and of the value range), so the same settings make visible anomalies at any resolution and on inputs
normalised to [0, 1] or standardised: with ``value_range=None`` the sample's own min/max is the range.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

from seedlens.anomaly._blobs import SHAPES, blob_footprints, draw_blobs, randint, randints, render, uniform
from seedlens.data.transforms.foreground import otsu_threshold
from seedlens.errors import ConfigError, ShapeError

#: A blob whose mean absolute change is below this fraction of the value range gets its sign flipped.
MIN_CHANGE = 0.025

#: Where :class:`ConfettiNoise` may centre its blobs.
PLACEMENTS = ("anywhere", "foreground")


def _check_pair(name: str, value: Sequence[float], lo: float, hi: float) -> tuple[float, float]:
    if len(value) != 2 or not (lo <= value[0] <= value[1] <= hi):
        raise ConfigError(f"{name} must be (low, high) with {lo} <= low <= high <= {hi}; got {value!r}")
    return float(value[0]), float(value[1])


def _value_ranges(x: Tensor, value_range: tuple[float, float] | None) -> tuple[Tensor, Tensor]:
    """Per-sample valid range of a batch ``(N, ...)``: ``value_range``, or each sample's own min and max."""
    if value_range is not None:
        lo = torch.full((x.shape[0],), value_range[0], device=x.device)
        return lo, torch.full_like(lo, value_range[1])
    flat = x.flatten(1)
    lo, hi = flat.amin(dim=1), flat.amax(dim=1)
    constant = hi - lo < 1e-6  # a constant sample: any visible change is an anomaly
    return torch.where(constant, lo - 0.5, lo), torch.where(constant, lo + 0.5, hi)


def foreground_mask(x: Tensor) -> Tensor:
    """Foreground of one sample ``(C, *spatial)``: the positions whose channel mean exceeds Otsu's threshold.

    For an object on a dark background (a seed, an organ or a part in a CT volume, an object on a plain backdrop)
    this is the object; returns a bool ``(*spatial)`` tensor.
    """
    mean = x.float().mean(dim=0)
    return mean > otsu_threshold(mean)


def _core_change(before: Tensor, after: Tensor, footprint: Tensor) -> float:
    """Mean absolute change over the core of one blob (footprint above half its peak), all channels."""
    core = footprint >= 0.5 * footprint.max()
    return float((after - before).abs()[:, core].mean()) if bool(core.any()) else 0.0


class ConfettiNoise:
    """Add smooth blobs of random size, rotation and colour to a 2D image or a 3D volume.

    Per the FCDD paper: blobs of 8–54 px on 240 px images (``blob_fraction=(0.03, 0.22)`` of each axis), rotated
    by up to ±45°, each with its own random colour per channel, at least one per sample, blurred by a Gaussian
    (σ ≈ 5 px at 240 px, i.e. ``sigma_fraction = 0.021`` of the mean axis length), *added* to the sample and clamped
    to the valid range. A blob that changes its core by less than 2.5 % of the range on average (e.g. a bright blob
    on a saturated region) is subtracted instead. In 3D the blobs are rotated cuboids and ellipsoids.

    Two generic options adapt confetti to objects on a background, such as a seed, an organ or a part in a CT
    volume, where per-axis fractions and uniform placement work poorly:

    * ``placement="foreground"`` centres every blob on the object (positions above Otsu's threshold of the
      sample, :func:`foreground_mask`). Uniformly placed blobs mostly land in the background, where a bright blob
      on black is trivially visible and teaches nothing about the object's own structure; blobs on the object
      are local changes of its texture and density (darker or brighter regions, holes, sheets), the generic kind
      of anomaly an object-centred detector has to see.
    * ``blob_volume=(low, high)`` sizes blobs by volume, as a fraction of the object's volume (the foreground's
      voxel count; the whole array with ``placement="anywhere"``), drawn log-uniformly with random aspect ratios.
      Per-axis fractions multiply in 3D: sides of 3–22 % per axis give blobs of 0.003 %–1 % of the volume.

    The ``"plate"`` shape is an ellipsoid flattened along one axis (a sheet in 3D, a streak in 2D): a generic
    thin structure next to the compact boxes and ellipsoids.

    Args:
        spatial_dims: 2 for ``(C, H, W)`` images, 3 for ``(C, D, H, W)`` volumes.
        blob_fraction: Range of blob side lengths as fractions of each spatial axis (when ``blob_volume`` is None).
        max_blobs: Most blobs per sample; the count is uniform in ``[1, max_blobs]``.
        rotation: Largest rotation in degrees, about every axis.
        sigma: Gaussian blur std in pixels; None uses ``sigma_fraction`` of the mean axis length.
        sigma_fraction: Blur std relative to the mean axis length when ``sigma`` is None.
        intensity: Range of each blob's colour magnitude per channel, as a fraction of the value range; the sign
            is random per channel.
        value_range: ``(low, high)`` valid range to clamp to; None uses each sample's own min and max.
        shapes: Blob shapes to draw from: ``"box"``, ``"ellipsoid"`` and/or ``"plate"``; None means boxes in 2D
            and boxes and ellipsoids in 3D.
        mask_threshold: A pixel is in the mask when some channel changed by more than this fraction of the range.
        placement: ``"anywhere"`` (uniform centres, the paper's choice) or ``"foreground"`` (centres on the
            object; falls back to anywhere on a sample without foreground).
        blob_volume: ``(low, high)`` blob volume as a fraction of the object's (or the array's) volume; None
            uses ``blob_fraction``.
        intensity_scale: ``"linear"`` draws colour magnitudes uniformly from ``intensity``; ``"log"`` draws them
            log-uniformly (as many faint blobs per factor of contrast as strong ones), which exposes the detector
            to subtle changes as well as to obvious ones.

    Raises:
        ConfigError: On an invalid parameter.

    Example:
        >>> confetti = ConfettiNoise(spatial_dims=2, value_range=(0.0, 1.0))
        >>> x_bad, mask = confetti(torch.rand(3, 64, 64), torch.Generator().manual_seed(0))
        >>> in_tissue = ConfettiNoise(spatial_dims=3, placement="foreground", blob_volume=(0.005, 0.05))
    """

    def __init__(
        self,
        spatial_dims: int = 2,
        blob_fraction: tuple[float, float] = (0.03, 0.22),
        max_blobs: int = 6,
        rotation: float = 45.0,
        sigma: float | None = None,
        sigma_fraction: float = 5.0 / 240.0,
        intensity: tuple[float, float] = (0.2, 1.0),
        value_range: tuple[float, float] | None = None,
        shapes: tuple[str, ...] | None = None,
        mask_threshold: float = 0.01,
        placement: str = "anywhere",
        blob_volume: tuple[float, float] | None = None,
        intensity_scale: str = "linear",
    ) -> None:
        if spatial_dims not in (2, 3):
            raise ConfigError(f"spatial_dims must be 2 or 3; got {spatial_dims!r}")
        if not isinstance(max_blobs, int) or max_blobs < 1:
            raise ConfigError(f"max_blobs must be an int >= 1; got {max_blobs!r}")
        if sigma is not None and sigma < 0:
            raise ConfigError(f"sigma must be >= 0 pixels or None; got {sigma!r}")
        if value_range is not None and not value_range[0] < value_range[1]:
            raise ConfigError(f"value_range must be (low, high) with low < high; got {value_range!r}")
        shapes = shapes or (("box",) if spatial_dims == 2 else ("box", "ellipsoid"))
        if not shapes or any(s not in SHAPES for s in shapes):
            raise ConfigError(f"shapes must name some of {', '.join(SHAPES)}; got {shapes!r}")
        if intensity_scale not in ("linear", "log"):
            raise ConfigError(f"intensity_scale must be 'linear' or 'log'; got {intensity_scale!r}")
        if placement not in PLACEMENTS:
            raise ConfigError(f"placement must be one of {', '.join(PLACEMENTS)}; got {placement!r}")
        self.spatial_dims = spatial_dims
        self.blob_fraction = _check_pair("blob_fraction", blob_fraction, 0.0, 1.0)
        self.max_blobs = max_blobs
        self.rotation = float(rotation)
        self.sigma = sigma
        self.sigma_fraction = float(sigma_fraction)
        self.intensity = _check_pair("intensity", intensity, 0.0, 1.0)
        self.value_range = None if value_range is None else (float(value_range[0]), float(value_range[1]))
        self.shapes = tuple(shapes)
        self.mask_threshold = float(mask_threshold)
        self.placement = placement
        self.intensity_scale = intensity_scale
        if intensity_scale == "log" and self.intensity[0] <= 0:
            raise ConfigError(f"intensity_scale='log' needs intensity > 0; got {intensity!r}")
        self.blob_volume = None if blob_volume is None else _check_pair("blob_volume", blob_volume, 1e-9, 1.0)

    def __repr__(self) -> str:
        return (
            f"ConfettiNoise(spatial_dims={self.spatial_dims}, blob_fraction={self.blob_fraction}, "
            f"max_blobs={self.max_blobs}, rotation={self.rotation}, sigma={self.sigma}, "
            f"intensity={self.intensity}, value_range={self.value_range}, shapes={self.shapes}, "
            f"placement={self.placement!r}, blob_volume={self.blob_volume})"
        )

    def _sigma(self, spatial: tuple[int, ...]) -> float:
        return self.sigma if self.sigma is not None else self.sigma_fraction * sum(spatial) / len(spatial)

    def _magnitudes(self, shape: tuple[int, ...], generator: torch.Generator | None) -> Tensor:
        """Colour magnitudes as fractions of the value range (float64)."""
        if self.intensity_scale == "log":
            lo, hi = math.log(self.intensity[0]), math.log(self.intensity[1])
            return torch.exp(uniform(lo, hi, shape, generator))
        return uniform(*self.intensity, shape, generator)

    def __call__(self, x: Tensor, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        """Corrupt one sample (:meth:`batch` of one).

        Args:
            x: ``(C, H, W)`` for ``spatial_dims=2`` or ``(C, D, H, W)`` for 3, floating point.
            generator: Torch random generator; a seeded one makes the result reproducible.

        Returns:
            ``(x', mask)``: the corrupted sample (shape, dtype and device of ``x``) and a float mask
            ``(1, *spatial)`` with 1 where the sample changed.

        Raises:
            ShapeError: If ``x`` does not have ``1 + spatial_dims`` axes.
        """
        if x.dim() != 1 + self.spatial_dims:
            layout = "(C, H, W)" if self.spatial_dims == 2 else "(C, D, H, W)"
            raise ShapeError(f"x must be {layout} for spatial_dims={self.spatial_dims}; got {tuple(x.shape)}")
        out, mask = self.batch(x[None], generator)
        return out[0], mask[0]

    def batch(self, x: Tensor, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        """Corrupt every sample of a batch at once, on the batch's device.

        Random numbers are drawn with ``generator`` on its own device (a generator on the training device keeps
        the whole synthesis there); a seeded generator makes the result reproducible.

        Args:
            x: ``(N, C, H, W)`` for ``spatial_dims=2`` or ``(N, C, D, H, W)`` for 3, floating point.
            generator: Torch random generator.

        Returns:
            ``(x', masks)``: the corrupted batch (shape, dtype and device of ``x``) and float masks
            ``(N, 1, *spatial)`` with 1 where a sample changed.

        Raises:
            ShapeError: If ``x`` does not have ``2 + spatial_dims`` axes.
        """
        if x.dim() != 2 + self.spatial_dims:
            layout = "(N, C, H, W)" if self.spatial_dims == 2 else "(N, C, D, H, W)"
            raise ShapeError(f"x must be {layout} for spatial_dims={self.spatial_dims}; got {tuple(x.shape)}")
        src = x.float()
        out = src.clone()
        masks = torch.zeros((x.shape[0], 1, *x.shape[2:]), dtype=torch.float32, device=x.device)
        todo = torch.arange(x.shape[0], device=x.device)
        for _ in range(10):  # practically always the first try: a sample whose blobs changed nothing draws again
            corrupted, drawn = self._draw(src[todo], generator)
            out[todo], masks[todo] = corrupted, drawn
            todo = todo[~drawn.flatten(1).any(dim=1)]
            if todo.numel() == 0:
                break
        return out.to(x.dtype), masks.to(x.dtype)

    def _draw(self, src: Tensor, generator: torch.Generator | None) -> tuple[Tensor, Tensor]:
        """One draw of blobs for every sample of ``src`` ``(N, C, *spatial)``: ``(corrupted, masks)``."""
        n, channels = src.shape[:2]
        spatial = tuple(int(s) for s in src.shape[2:])
        dims = self.spatial_dims
        lo, hi = _value_ranges(src, self.value_range)
        span = hi - lo
        foreground = None
        reference = torch.full((n,), float(math.prod(spatial)), device=src.device)
        if self.placement == "foreground":
            foreground = torch.stack([foreground_mask(sample) for sample in src])
            counts = foreground.flatten(1).sum(dim=1).float()
            reference = torch.where(counts > 0, counts, reference)
        volume = None
        if self.blob_volume is not None:
            volume = torch.stack([self.blob_volume[0] * reference, self.blob_volume[1] * reference], dim=1)
        count = randints(1, self.max_blobs + 1, (n,), generator).to(src.device)
        blobs = draw_blobs(n, self.max_blobs, spatial, self.blob_fraction, self.rotation, self.shapes, generator,
                           volume=volume, foreground=foreground)
        magnitude = self._magnitudes((n, self.max_blobs, channels), generator)
        sign = torch.where(uniform(0.0, 1.0, (n, self.max_blobs, channels), generator) < 0.5, -1.0, 1.0)
        colours = (magnitude * sign).to(src.device, torch.float32) * span.reshape(-1, 1, 1)
        sigma = self._sigma(spatial)
        view = (-1, *([1] * (dims + 1)))
        low, high = lo.reshape(view), hi.reshape(view)
        out = src
        for slot in range(self.max_blobs):
            blob = render(blobs, slot, spatial, sigma, self.shapes, src.device)  # (N, *spatial)
            delta = colours[:, slot].reshape(n, channels, *([1] * dims)) * blob[:, None]
            candidate = torch.maximum(torch.minimum(out + delta, high), low)
            core = (blob >= 0.5 * blob.flatten(1).amax(dim=1).reshape(-1, *([1] * dims)))[:, None]
            changed = ((candidate - out).abs() * core).flatten(1).sum(dim=1)
            changed = changed / (core.flatten(1).sum(dim=1) * channels).clamp_min(1)
            flip = (changed < MIN_CHANGE * span).reshape(view)  # e.g. a bright blob on a saturated region
            candidate = torch.where(flip, torch.maximum(torch.minimum(out - delta, high), low), candidate)
            out = torch.where((slot < count).reshape(view), candidate, out)
        masks = ((out - src).abs().amax(dim=1, keepdim=True) > self.mask_threshold * span.reshape(view)).float()
        return out, masks


class SpectralConfetti:
    """Change the spectra of hyperspectral cubes inside smooth blobs.

    Every blob (2D footprint as in :class:`ConfettiNoise`) applies one of three spectral changes, blended in by
    its footprint:

    * ``"shift"``: spectra shifted along the band axis by ``k`` bands (edge bands repeated), ``k`` drawn from
      ``shift_fraction`` of the band count with a random sign — moves absorption features and edges;
    * ``"slope"``: a linear ramp across the bands added, from ``-a`` to ``+a`` (random sign) with ``a`` drawn from
      ``slope`` as a fraction of the value range — tilts the spectrum;
    * ``"swap"``: spectra copied from another location of the cube (a random spatial offset).

    A blob whose core changes by less than 2.5 % of the range on average (e.g. a shift of flat spectra, a swap with
    a similar region) falls back to ``"slope"``, whose sign is flipped if clamping cancels it; so every blob is
    visible even on flat or low-contrast spectra.

    Args:
        blob_fraction: Range of blob side lengths as fractions of H and W.
        max_blobs: Most blobs per cube; the count is uniform in ``[1, max_blobs]``.
        rotation: Largest blob rotation in degrees.
        sigma: Footprint blur std in pixels; None uses ``sigma_fraction`` of the mean of H and W.
        sigma_fraction: Blur std relative to the mean of H and W when ``sigma`` is None.
        modes: Spectral changes to draw from, any of ``"shift"``, ``"slope"``, ``"swap"``.
        shift_fraction: Range of the band shift as a fraction of the band count (at least one band).
        slope: Range of the ramp amplitude as a fraction of the value range.
        value_range: ``(low, high)`` to clamp to; None uses each cube's own min and max.
        mask_threshold: A pixel is in the mask when some band changed by more than this fraction of the range.

    Raises:
        ConfigError: On an invalid parameter.
    """

    MODES = ("shift", "slope", "swap")

    def __init__(
        self,
        blob_fraction: tuple[float, float] = (0.03, 0.22),
        max_blobs: int = 4,
        rotation: float = 45.0,
        sigma: float | None = None,
        sigma_fraction: float = 5.0 / 240.0,
        modes: tuple[str, ...] = ("shift", "slope", "swap"),
        shift_fraction: tuple[float, float] = (0.05, 0.25),
        slope: tuple[float, float] = (0.1, 0.3),
        value_range: tuple[float, float] | None = None,
        mask_threshold: float = 0.01,
    ) -> None:
        if not isinstance(max_blobs, int) or max_blobs < 1:
            raise ConfigError(f"max_blobs must be an int >= 1; got {max_blobs!r}")
        if not modes or any(m not in self.MODES for m in modes):
            raise ConfigError(f"modes must be a non-empty subset of {self.MODES}; got {modes!r}")
        if value_range is not None and not value_range[0] < value_range[1]:
            raise ConfigError(f"value_range must be (low, high) with low < high; got {value_range!r}")
        self.blob_fraction = _check_pair("blob_fraction", blob_fraction, 0.0, 1.0)
        self.max_blobs = max_blobs
        self.rotation = float(rotation)
        self.sigma = sigma
        self.sigma_fraction = float(sigma_fraction)
        self.modes = tuple(modes)
        self.shift_fraction = _check_pair("shift_fraction", shift_fraction, 0.0, 1.0)
        self.slope = _check_pair("slope", slope, 0.0, 1.0)
        self.value_range = None if value_range is None else (float(value_range[0]), float(value_range[1]))
        self.mask_threshold = float(mask_threshold)

    def __repr__(self) -> str:
        return (
            f"SpectralConfetti(blob_fraction={self.blob_fraction}, max_blobs={self.max_blobs}, modes={self.modes}, "
            f"shift_fraction={self.shift_fraction}, slope={self.slope}, value_range={self.value_range})"
        )

    def _shifted(self, x: Tensor, generator: torch.Generator | None) -> Tensor:
        bands = x.shape[0]
        lo = max(1, round(self.shift_fraction[0] * bands))
        hi = max(lo, round(self.shift_fraction[1] * bands))
        k = randint(lo, hi + 1, generator) * (1 if randint(0, 2, generator) else -1)
        index = (torch.arange(bands, device=x.device) - k).clamp(0, bands - 1)
        return x[index]

    def _sloped(self, x: Tensor, span: float, generator: torch.Generator | None) -> Tensor:
        a = float(uniform(*self.slope, (1,), generator)) * span * (1 if randint(0, 2, generator) else -1)
        ramp = torch.linspace(-a, a, x.shape[0], device=x.device, dtype=x.dtype)
        return x + ramp.view(-1, 1, 1)

    def _swapped(self, x: Tensor, generator: torch.Generator | None) -> Tensor:
        h, w = x.shape[1:]
        dy = randint(h // 4, max(h // 4 + 1, 3 * h // 4), generator)
        dx = randint(w // 4, max(w // 4 + 1, 3 * w // 4), generator)
        return torch.roll(x, shifts=(dy, dx), dims=(1, 2))

    def __call__(self, x: Tensor, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        """Corrupt one cube.

        Args:
            x: ``(bands, H, W)`` floating point cube.
            generator: Torch random generator; a seeded one makes the result reproducible.

        Returns:
            ``(x', mask)``: the corrupted cube (shape, dtype and device of ``x``) and a float mask ``(1, H, W)``
            with 1 where some band changed.

        Raises:
            ShapeError: If ``x`` is not 3D.
        """
        if x.dim() != 3:
            raise ShapeError(f"x must be a cube (bands, H, W); got {tuple(x.shape)}")
        low, high = _value_ranges(x[None].float(), self.value_range)
        lo, hi = float(low[0]), float(high[0])
        span = hi - lo
        spatial = tuple(x.shape[1:])
        sigma = self.sigma if self.sigma is not None else self.sigma_fraction * sum(spatial) / 2
        src = x.float()
        out = src
        count = randint(1, self.max_blobs + 1, generator)
        blobs = blob_footprints(spatial, count, self.blob_fraction, self.rotation, sigma, ("box",), generator, x.device)
        for blob in blobs:
            mode = self.modes[randint(0, len(self.modes), generator)]
            if mode == "shift":
                target = self._shifted(out, generator)
            elif mode == "swap":
                target = self._swapped(out, generator)
            else:
                target = self._sloped(out, span, generator)
            candidate = (out + blob * (target - out)).clamp(lo, hi)
            if _core_change(out, candidate, blob) < MIN_CHANGE * span:
                sloped = self._sloped(out, span, generator)
                candidate = (out + blob * (sloped - out)).clamp(lo, hi)
                if _core_change(out, candidate, blob) < MIN_CHANGE * span:
                    candidate = (out - blob * (sloped - out)).clamp(lo, hi)
            out = candidate
        mask = ((out - src).abs().amax(dim=0, keepdim=True) > self.mask_threshold * span).float()
        return out.to(x.dtype), mask
