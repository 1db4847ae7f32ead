"""Defects of a seed phantom volume; each returns new clean values and the region it may have changed."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from seedlens.data.synthetic._anatomy import COTYLEDON, RADICLE, Anatomy
from seedlens.data.synthetic._random import random_rotation, random_unit_vector

#: A clean voxel counts as changed by a defect when its attenuation moves by more than this.
CHANGE_THRESHOLD = 0.05

DefectResult = tuple[np.ndarray, np.ndarray, dict[str, float]]


def _crack(anat: Anatomy, rng: np.random.Generator) -> DefectResult:
    """A thin planar fissure of air entering from the coat, a half-ellipse in its plane, tapering inwards."""
    u = anat.u
    entry = random_unit_vector(rng)
    normal = rng.normal(size=3)
    normal -= normal.dot(entry) * entry
    normal /= np.linalg.norm(normal)
    lateral = np.cross(entry, normal)
    depth = rng.uniform(0.4, 0.85)
    half_length = rng.uniform(0.35, 0.8)
    width = rng.uniform(1.3, 2.0) * max(1.0, anat.mean_radius / 14.0) / anat.mean_radius

    s = 1.0 - np.tensordot(entry.astype(np.float32), u, axes=1)
    lat = np.tensordot(lateral.astype(np.float32), u, axes=1)
    h = np.tensordot(normal.astype(np.float32), u, axes=1)
    local_width = width * (1.0 - 0.6 * np.clip(s / depth, 0.0, 1.0))
    region = anat.seed & ((s / depth) ** 2 + (lat / half_length) ** 2 <= 1.0) & (np.abs(h) <= local_width / 2)
    values = anat.values.copy()
    values[region] = rng.uniform(0.0, 0.04)
    return values, region, {"depth": depth, "half_length": half_length, "width_voxels": width * anat.mean_radius}


def _void(anat: Anatomy, rng: np.random.Generator) -> DefectResult:
    """An ellipsoidal air cavity fully inside the coat."""
    target = np.exp(rng.uniform(np.log(0.006), np.log(0.045)))
    aniso = np.exp(rng.uniform(-0.25, 0.25, size=3))
    axes = target ** (1 / 3) * aniso / np.prod(aniso) ** (1 / 3)
    limit = max(0.0, 1.0 - anat.coat_thickness - axes.max() - 0.04)
    centre = random_unit_vector(rng) * rng.uniform(0.0, limit)
    rot = random_rotation(rng).astype(np.float32)
    d = anat.u - centre.astype(np.float32)[:, None, None, None]
    q = np.tensordot(rot.T, d, axes=1) / axes.astype(np.float32)[:, None, None, None]
    region = anat.interior & (np.einsum("i...,i...->...", q, q) <= 1.0)
    values = anat.values.copy()
    values[region] = rng.uniform(0.0, 0.05)
    return values, region, {"target_fraction": float(target)}


def _shrivelled_embryo(anat: Anatomy, rng: np.random.Generator) -> DefectResult:
    """The radicle shrunk in radius and length; the freed space becomes air or low-density tissue."""
    radius_scale = rng.uniform(0.4, 0.65)
    span_scale = rng.uniform(0.6, 0.9)
    d, s = anat.radicle.distance(anat.u, span_scale=span_scale)
    new = anat.interior & (d < anat.radicle.local_radius(s, radius_scale))
    old = anat.labels == RADICLE
    freed = old & ~new
    values = anat.values.copy()
    values[freed] = rng.uniform(0.03, 0.2)
    values[new & ~old] = anat.densities["radicle"]
    return values, freed | new, {"radius_scale": radius_scale, "length_scale": span_scale}


def _low_density(anat: Anatomy, rng: np.random.Generator) -> DefectResult:
    """An irregular region of dead tissue whose attenuation drops by 15-30 % of the tissue-to-air contrast."""
    target = rng.uniform(0.008, 0.045)
    radius = (target / 0.75) ** (1 / 3)
    aniso = np.exp(rng.uniform(-0.3, 0.3, size=3))
    axes = radius * aniso / np.prod(aniso) ** (1 / 3)
    centre = random_unit_vector(rng) * rng.uniform(0.0, max(0.0, 0.85 - anat.coat_thickness - axes.max()))
    rot = random_rotation(rng).astype(np.float32)
    d = anat.u - centre.astype(np.float32)[:, None, None, None]
    q = np.tensordot(rot.T, d, axes=1) / axes.astype(np.float32)[:, None, None, None]
    dist = np.sqrt(np.einsum("i...,i...->...", q, q))
    for _ in range(2):  # lumpy outline
        k = rng.normal(size=3).astype(np.float32) * 2.5
        dist += 0.12 * np.cos(np.tensordot(k, q, axes=1) + rng.uniform(0, 2 * np.pi))
    tissue = (anat.labels == COTYLEDON) | (anat.labels == RADICLE)
    region = tissue & (dist <= 1.0)
    drop = rng.uniform(0.15, 0.30)
    values = anat.values.copy()
    values[region] *= np.float32(1.0 - drop)  # air is 0, so this removes `drop` of the tissue-to-air contrast
    return values, region, {"density_drop": drop}


DEFECTS: dict[str, Callable[[Anatomy, np.random.Generator], DefectResult]] = {
    "crack": _crack,
    "void": _void,
    "shrivelled_embryo": _shrivelled_embryo,
    "low_density": _low_density,
}


def apply_defect(
    anat: Anatomy, defect: str, rng: np.random.Generator, fraction_range: tuple[float, float], max_tries: int = 200
) -> DefectResult:
    """Draw ``defect`` until the changed voxels cover ``fraction_range`` of the seed; return values, mask, params."""
    seed_voxels = int(anat.seed.sum())
    for _ in range(max_tries):
        values, region, params = DEFECTS[defect](anat, rng)
        changed = region & (np.abs(values - anat.values) > CHANGE_THRESHOLD)
        fraction = changed.sum() / seed_voxels
        if fraction_range[0] <= fraction <= fraction_range[1]:
            params["fraction"] = float(fraction)
            return np.where(changed, values, anat.values), changed, params
    raise RuntimeError(f"no {defect!r} defect covering {fraction_range} of the seed in {max_tries} tries")
