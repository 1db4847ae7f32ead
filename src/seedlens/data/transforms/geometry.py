"""Where a sample's voxels go on the detector's grid: resampling to a physical voxel size, fitting, padding, and back.

A detector works on one grid for every sample: volumes resampled to one physical voxel size (the plan's target
spacing), optionally scaled so their long side fits a given size (the aspect ratio kept) and padded at the end of
each axis. :class:`Geometry` records that mapping for one sample so that a map computed on the detector's grid can
be brought back to the sample's own grid (:func:`restore_map`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from seedlens.errors import ConfigError, ShapeError

__all__ = ["MAX_GRID_VOXELS", "Geometry", "mask_on_grid", "pad_end", "per_axis", "plan_geometry", "resampled_affine",
           "restore_map"]

#: Most voxels a sample may have on the detector's grid (8 GB as float32): beyond, resampling is refused with the
#: sizes involved — usually a spacing in other units than the training set's (µm against mm).
MAX_GRID_VOXELS = 2**31


@dataclass(frozen=True)
class Geometry:
    """How one sample's spatial grid maps onto the detector's grid.

    Attributes:
        input_shape: Spatial shape of the sample as read, ``(H, W)`` or ``(D, H, W)``.
        input_spacing: Voxel size of the sample used for resampling (its own, or the assumed isotropic one when
            it was unknown); None when nothing is resampled by spacing.
        resampled_shape: Spatial shape after resampling (and fitting to a size): the part of the detector's grid
            that holds the sample.
        output_shape: Spatial shape of the detector's input: ``resampled_shape`` padded at the end of each axis.
        spacing_known: Whether the sample carried its own spacing.
    """

    input_shape: tuple[int, ...]
    input_spacing: tuple[float, ...] | None
    resampled_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    spacing_known: bool = True

    @property
    def spacing(self) -> tuple[float, ...] | None:
        """Voxel size of the resampled grid (exact: the input extent divided by the resampled voxel count)."""
        if self.input_spacing is None:
            return None
        return tuple(
            s * n / r for s, n, r in zip(self.input_spacing, self.input_shape, self.resampled_shape, strict=True)
        )



def per_axis(name: str, value: float | Sequence[float], dims: int) -> tuple[float, ...]:
    """``value`` as one positive, finite number per spatial axis: one number stands for every axis.

    Raises:
        ConfigError: another count of values than 1 or ``dims``, or a value that is not positive and finite.
    """
    items: Sequence[float] = value if isinstance(value, Sequence) else (value,)
    values = tuple(float(v) for v in items)
    if len(values) == 1:
        values = values * dims
    if len(values) != dims or not all(np.isfinite(v) and v > 0 for v in values):
        raise ConfigError(f"{name} must be {dims} positive numbers (or one for all axes); got {tuple(items)}")
    return values


def plan_geometry(
    input_shape: Sequence[int],
    spacing: Sequence[float] | None,
    target_spacing: float | Sequence[float] | None = None,
    size: int | Sequence[int] | None = None,
    keep_aspect: bool = True,
) -> Geometry:
    """Return the :class:`Geometry` of one sample.

    1. ``target_spacing``: the sample is resampled so that one voxel is ``target_spacing`` (mm...) along each axis;
       its physical extent is kept. A sample without ``spacing`` is taken as isotropic at the finest target
       spacing (scans whose spacing is unknown, e.g. TIFF stacks or PNG, are treated as isotropic).
    2. ``size``: with ``keep_aspect`` the long side is scaled to ``size`` and the other axes by the same factor,
       then every axis is padded at its end to ``size``; without it every axis is stretched to ``size``.

    Args:
        input_shape: Spatial shape ``(H, W)`` or ``(D, H, W)``.
        spacing: The sample's voxel size per spatial axis, or None when unknown.
        target_spacing: Voxel size to resample to (one value for all axes, or one per axis); None keeps the grid.
        size: Side length (or one per axis) to fit into; None keeps the resampled size.
        keep_aspect: Keep the aspect ratio when fitting to ``size`` (pad the short axes).

    Raises:
        ConfigError: a spacing or size is not positive.
        ShapeError: ``spacing`` does not have one value per spatial axis.
    """
    shape = tuple(int(n) for n in input_shape)
    dims = len(shape)
    if dims not in (2, 3) or min(shape) < 1:
        raise ShapeError(f"spatial shape must be 2 or 3 positive sizes; got {shape}")
    known = spacing is not None
    source: tuple[float, ...] | None = None
    resampled = shape
    if target_spacing is not None:
        target = per_axis("target spacing", target_spacing, dims)
        if spacing is None:
            source = (min(target),) * dims
        else:
            if len(tuple(spacing)) != dims:
                raise ShapeError(f"spacing must have one value per spatial axis {shape}; got {tuple(spacing)}")
            source = per_axis("spacing", spacing, dims)
        resampled = tuple(max(1, round(n * s / t)) for n, s, t in zip(shape, source, target, strict=True))
    if int(np.prod(resampled, dtype=np.int64)) > MAX_GRID_VOXELS:
        raise ShapeError(
            f"a scan of {shape} voxels at spacing {tuple(spacing) if spacing is not None else 'unknown'} resampled to "
            f"the voxel size {tuple(target_spacing) if isinstance(target_spacing, Sequence) else target_spacing} "
            f"would have {resampled} voxels, more than {MAX_GRID_VOXELS:,}; check that its spacing is in the units "
            "of the training scans'"
        )
    output = resampled
    if size is not None:
        sizes = tuple(int(s) for s in (size if isinstance(size, Sequence) else (size,) * dims))
        if len(sizes) != dims or min(sizes) < 1:
            raise ConfigError(f"size must be {dims} positive integers (or one for all axes); got {size}")
        if keep_aspect:
            factor = min(s / n for s, n in zip(sizes, resampled, strict=True))
            resampled = tuple(min(s, max(1, round(n * factor))) for s, n in zip(sizes, resampled, strict=True))
        else:
            resampled = sizes
        output = sizes
    return Geometry(shape, source, resampled, output, spacing_known=known)


def pad_end(array: np.ndarray, shape: Sequence[int], value: float) -> np.ndarray:
    """Pad the spatial axes of ``(C, *spatial)`` at their end with ``value`` up to ``shape`` (never crops)."""
    spatial = array.shape[1:]
    target = tuple(max(int(s), n) for s, n in zip(shape, spatial, strict=True))
    if target == tuple(spatial):
        return array
    out = np.full((array.shape[0], *target), value, dtype=array.dtype)
    out[(slice(None), *(slice(0, n) for n in spatial))] = array
    return out


def mask_on_grid(mask: np.ndarray, geometry: Geometry, any_coverage: bool = False) -> np.ndarray:
    """A mask of the sample's grid (``(*input_shape)`` or ``(1, *input_shape)``) on the detector's grid.

    Resampled with nearest neighbour, or with ``any_coverage`` so that a voxel of the new grid is set when any part
    of the input it covers is (a lesion one slice thin survives a shrinking resample: the patches that must avoid
    it, and the labelled patches that must show it, still see it). Padded with False: bool ``(*output_shape)``.
    """
    m = (np.asarray(mask).reshape(geometry.input_shape) > 0).astype(np.uint8)[None]
    if geometry.resampled_shape != geometry.input_shape:
        if any_coverage:
            pool = F.adaptive_max_pool3d if m.ndim == 4 else F.adaptive_max_pool2d
            pooled = pool(torch.from_numpy(m).float()[None], tuple(geometry.resampled_shape))[0]
            m = (pooled.numpy() > 0).astype(np.uint8)
        else:
            from seedlens.data.transforms.functional import resize

            m = resize(m, geometry.resampled_shape, mode="nearest")
    return pad_end(m, geometry.output_shape, 0)[0] > 0


def restore_map(heatmap: np.ndarray | torch.Tensor, geometry: Geometry) -> np.ndarray:
    """Bring a map on the detector's grid ``(K, *output_shape)`` back to the sample's grid ``(K, *input_shape)``.

    The padding is cropped off, then the map is resized (linear) to the input shape; a map already on the input
    grid is returned as it is.

    Raises:
        ShapeError: the map's spatial shape is not ``geometry.output_shape``.
    """
    m = heatmap.detach().cpu() if isinstance(heatmap, torch.Tensor) else torch.from_numpy(np.asarray(heatmap))
    if tuple(m.shape[1:]) != geometry.output_shape:
        raise ShapeError(f"map must be (K, *{geometry.output_shape}); got shape {tuple(m.shape)}")
    m = m[(slice(None), *(slice(0, n) for n in geometry.resampled_shape))].float()
    if geometry.resampled_shape != geometry.input_shape:  # maps are smooth: plain (bi/tri)linear, no antialiasing
        mode = "trilinear" if len(geometry.input_shape) == 3 else "bilinear"
        m = F.interpolate(m[None], size=geometry.input_shape, mode=mode, align_corners=False)[0]
    return np.ascontiguousarray(m.numpy(), dtype=np.float32)


def resampled_affine(affine: np.ndarray, geometry: Geometry) -> np.ndarray:
    """The voxel-to-world affine of the resampled grid, given the sample's affine (see :class:`ArrayMeta`).

    Resampling with ``align_corners=False`` keeps the physical extent: resampled voxel ``i'`` has its centre at
    input index ``(i' + 0.5) * n / r - 0.5`` along an axis of ``n`` input and ``r`` resampled voxels. The affine
    maps ``(w, h, d, 1)``: the spatial axes in reverse order.
    """
    affine = np.asarray(affine, dtype=np.float64)
    if affine.shape != (4, 4):
        raise ShapeError(f"affine must be 4×4; got shape {affine.shape}")
    dims = len(geometry.input_shape)
    scale = np.eye(4)
    for k, (n, r) in enumerate(zip(geometry.input_shape[::-1], geometry.resampled_shape[::-1], strict=True)):
        if k >= 3:
            break
        factor = n / r
        scale[k, k] = factor
        scale[k, 3] = 0.5 * factor - 0.5
    if dims == 2:
        scale[2, 2], scale[2, 3] = 1.0, 0.0
    return affine @ scale

