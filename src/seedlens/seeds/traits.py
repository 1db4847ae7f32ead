"""Morphometric traits of one grain, measured on its mask and values.

* ``voxels``; ``volume_mm3`` when the spacing is known;
* ``length`` / ``width`` / ``thickness``: full lengths of the principal axes, from the second moments of the
  voxel positions (a solid ellipsoid of semi-axis a has variance a²/5 along it, so the axis is 2·√(5λ));
* ``surface``: area of the marching-cubes surface of the mask (mm² or voxel faces);
* ``density_mean`` / ``density_std``: intensity of the grain's voxels (scan units);
* ``cavity_fraction``: share of the grain's inner voxels (two voxels or more from its surface) darker than
  halfway between air and the grain's median tissue: internal voids and cracks.

With a known spacing the length-like columns end in ``_mm`` (and ``surface_mm2``); without, in ``_vox``, so
that a table never mixes units silently.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import ndimage

from seedlens.seeds.grains import Grain

CAVITY_DEPTH = 2


def _units(spacing: Sequence[float] | None) -> tuple[np.ndarray, str, str, str]:
    if spacing is None:
        return np.ones(3), "_vox", "_vox", "_vox"
    return np.asarray(spacing, dtype=np.float64), "_mm", "_mm3", "_mm2"


def grain_traits(grain: Grain, air_level: float, spacing: Sequence[float] | None = None) -> dict[str, float]:
    """Measure one grain.

    Args:
        grain: A crop from :func:`~seedlens.seeds.grains.crop_grains`.
        air_level: The scan's air intensity (``GrainSegmentation.air_level``).
        spacing: ``(D, H, W)`` voxel size in mm, or None.

    Returns:
        Trait name -> value (see the module docstring for the names and units).
    """
    from skimage.measure import marching_cubes, mesh_surface_area

    steps, length_unit, volume_unit, area_unit = _units(spacing)
    mask = grain.mask
    coords = np.argwhere(mask) * steps
    voxels = int(mask.sum())
    eig = np.sort(np.clip(np.linalg.eigvalsh(np.cov(coords.T)), 0, None))[::-1] if voxels > 3 else np.zeros(3)
    axes = 2.0 * np.sqrt(5.0 * eig)
    padded = np.pad(mask, 1).astype(np.float32)
    verts, faces, _, _ = marching_cubes(padded, level=0.5, spacing=tuple(steps))
    inside = grain.values[mask]
    tissue = float(np.median(inside))
    cavity_level = (air_level + tissue) / 2.0
    inner = ndimage.binary_erosion(mask, iterations=CAVITY_DEPTH)
    inner_values = grain.values[inner]
    cavity = float(np.mean(inner_values < cavity_level)) if inner_values.size else 0.0
    volume = {} if spacing is None else {f"volume{volume_unit}": float(voxels * np.prod(steps))}
    return {
        "voxels": float(voxels),
        **volume,
        f"length{length_unit}": float(axes[0]),
        f"width{length_unit}": float(axes[1]),
        f"thickness{length_unit}": float(axes[2]),
        f"surface{area_unit}": float(mesh_surface_area(verts, faces)),
        "density_mean": float(inside.mean()),
        "density_std": float(inside.std()),
        "cavity_fraction": cavity,
    }
