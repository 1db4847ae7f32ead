"""Defects inserted into a real grain: its CT values and its mask in, new values and the defect's mask out.

The phantom generator (:mod:`~seedlens.data.synthetic._defects3d`) draws its defects in the coordinates of a
synthetic seed; these are the same shapes, sizes and contrasts drawn on a *measured* grain, from nothing but its
voxel mask (a crop of :func:`seedlens.seeds.crop_grains`, for example):

* ``void``: an ellipsoidal air cavity (random orientation, axes within ±25 % of each other in log) lying fully
  inside the grain, behind a wall of at least :data:`WALL` voxels of tissue; 1–5 % of the grain's voxels.
* ``crack``: a thin planar fissure of air entering from the surface: a half-ellipse in a plane through the
  grain's inward direction at a random surface voxel, 40–85 % of the way to the grain's centre deep, 35–80 % of
  the grain's semi-axis in that plane long, 1.3–2 voxels wide (wider on large grains, as the phantom's) and
  tapering to 40 % of that at its deepest; 0.5–5 % of the grain's voxels.
* ``low_density``: an irregular (lumpy ellipsoidal) region inside the grain's coat whose intensity drops by
  15–30 % of the tissue-to-air contrast, voxel by voxel (``air + (v - air) · (1 - drop)``, the texture kept);
  0.5–5 % of the grain's voxels.

Air is the level outside the mask (an isolated crop holds exactly the scan's air level there), or ``air`` when
given. Cavities get the air level plus up to 4–5 % of the contrast, as the phantom's. The defect mask is the set of
voxels whose value changed by more than :data:`CHANGE_FRACTION` of the tissue-to-air contrast; it lies inside the
grain's mask and nothing outside it changes. A shape is drawn again until its mask covers the kind's fraction range
(:data:`FRACTION_RANGES`); the same ``rng`` (an int or a fresh Generator in the same state) gives the same defect.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from seedlens.data.synthetic._random import RNGLike, random_rotation, random_unit_vector
from seedlens.errors import ConfigError, ShapeError

#: Share of the grain's voxels each kind's defect mask covers.
FRACTION_RANGES: dict[str, tuple[float, float]] = {
    "void": (0.01, 0.05),
    "crack": (0.005, 0.05),
    "low_density": (0.005, 0.05),
}
GRAIN_DEFECT_KINDS = tuple(FRACTION_RANGES)
#: Tissue voxels between a void (or a low-density region) and the grain's surface: the coat.
WALL = 2.0
#: A voxel belongs to the defect when its value moved by more than this share of the tissue-to-air contrast.
CHANGE_FRACTION = 0.02
#: Density drop of ``low_density`` as a share of the tissue-to-air contrast.
DENSITY_DROP = (0.15, 0.30)
MAX_TRIES = 200


def insert_grain_defect(
    values: np.ndarray,
    mask: np.ndarray,
    kind: str,
    rng: RNGLike,
    *,
    air: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Insert one defect of ``kind`` into a grain.

    Args:
        values: ``(D, H, W)`` intensities of the grain's crop (brighter = denser; any real dtype).
        mask: ``(D, H, W)`` bool, True on the grain's voxels.
        kind: ``void``, ``crack`` or ``low_density`` (see the module docstring).
        rng: A numpy Generator, an int seed or None.
        air: The air intensity; None takes the median of the voxels outside ``mask`` (the crop's minimum when
            the mask fills the crop).

    Returns:
        ``(new_values, defect_mask)``: a copy of ``values`` (same dtype; integer types rounded and clipped) with
        the defect, and the bool mask of the voxels it changed.

    Raises:
        ConfigError: an unknown ``kind``; a grain whose tissue is not brighter than air.
        ShapeError: ``values`` and ``mask`` are not volumes of one shape, or the mask is empty.
        RuntimeError: no defect of the kind's size fits the grain in :data:`MAX_TRIES` draws (a grain too thin
            for a void with its wall, for example).
    """
    if kind not in FRACTION_RANGES:
        raise ConfigError(f"unknown grain defect {kind!r}; expected one of {', '.join(GRAIN_DEFECT_KINDS)}")
    array = np.asarray(values)
    grain = np.asarray(mask, dtype=bool)
    if array.ndim != 3 or grain.shape != array.shape:
        raise ShapeError(f"values and mask must be volumes (D, H, W) of one shape; got {array.shape} and {grain.shape}")
    voxels = int(grain.sum())
    if voxels < 8:
        raise ShapeError(f"the grain mask holds {voxels} voxels: too few for a defect")
    generator = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    work = array.astype(np.float32)
    air_level = float(air) if air is not None else (float(np.median(work[~grain])) if (~grain).any()
                                                     else float(work.min()))
    tissue = float(np.median(work[grain]))
    contrast = tissue - air_level
    if not contrast > 0:
        raise ConfigError(f"the grain's tissue ({tissue:g}) is not brighter than air ({air_level:g})")
    frame = _Frame(grain)
    low, high = FRACTION_RANGES[kind]
    draw = {"void": _void, "crack": _crack, "low_density": _low_density}[kind]
    for _ in range(MAX_TRIES):
        region, level = draw(frame, generator, (low, high))
        if region is None:
            continue
        new = work.copy()
        if kind == "low_density":
            new[region] = air_level + (work[region] - air_level) * np.float32(1.0 - level)
        else:
            new[region] = air_level + level * contrast
        out = _cast(new, array.dtype)
        changed = region & (np.abs(out.astype(np.float32) - work) > CHANGE_FRACTION * contrast)
        if low <= changed.sum() / voxels <= high:
            return np.where(changed, out, array).astype(array.dtype, copy=False), changed
    raise RuntimeError(f"no {kind!r} defect covering {low:.1%}–{high:.1%} of a grain of {voxels} voxels "
                       f"in {MAX_TRIES} draws")


class _Frame:
    """What the shapes need of a grain: voxel coordinates, centroid, principal axes, depth below the surface."""

    def __init__(self, grain: np.ndarray) -> None:
        self.grain = grain
        self.voxels = int(grain.sum())
        self.coords = np.indices(grain.shape, dtype=np.float32)  # (3, D, H, W)
        points = np.argwhere(grain).astype(np.float64)
        self.centre = points.mean(axis=0)
        self.cov = np.cov(points.T) if len(points) > 3 else np.eye(3)
        self.depth = ndimage.distance_transform_edt(np.pad(grain, 1))[1:-1, 1:-1, 1:-1]
        self.surface = grain & (self.depth < 1.5)
        self.mean_radius = (3.0 * self.voxels / (4.0 * np.pi)) ** (1 / 3)

    def semi_axis(self, direction: np.ndarray) -> float:
        """Half the grain's extent along ``direction`` (a solid ellipsoid of semi-axis a has variance a²/5)."""
        return float(np.sqrt(5.0 * max(float(direction @ self.cov @ direction), 1e-6)))

    def offsets(self, origin: np.ndarray) -> np.ndarray:
        """``(3, D, H, W)`` vectors from ``origin`` to every voxel."""
        return self.coords - origin.astype(np.float32)[:, None, None, None]


def _ellipsoid_axes(voxels: float, rng: np.random.Generator, spread: float) -> np.ndarray:
    """Semi-axes in voxels of an ellipsoid of ``voxels`` voxels, each within ``exp(±spread)`` of the mean."""
    radius = (3.0 * voxels / (4.0 * np.pi)) ** (1 / 3)
    aniso = np.exp(rng.uniform(-spread, spread, size=3))
    return radius * aniso / np.prod(aniso) ** (1 / 3)


def _centre(frame: _Frame, rng: np.random.Generator, clearance: float) -> np.ndarray | None:
    """A random voxel at least ``clearance`` voxels below the surface, or None."""
    candidates = np.argwhere(frame.depth >= clearance)
    if len(candidates) == 0:
        return None
    return candidates[rng.integers(len(candidates))].astype(np.float64)


def _quadratic(frame: _Frame, centre: np.ndarray, axes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``(3, D, H, W)`` coordinates in the frame of a randomly rotated ellipsoid, scaled by its semi-axes."""
    rot = random_rotation(rng).astype(np.float32)
    return np.tensordot(rot.T, frame.offsets(centre), axes=1) / axes.astype(np.float32)[:, None, None, None]


def _void(frame: _Frame, rng: np.random.Generator,
          fraction: tuple[float, float]) -> tuple[np.ndarray | None, float]:
    target = np.exp(rng.uniform(np.log(fraction[0]), np.log(fraction[1])))
    axes = _ellipsoid_axes(target * frame.voxels, rng, 0.25)
    centre = _centre(frame, rng, float(axes.max()) + WALL + 0.5)
    if centre is None:
        return None, 0.0
    q = _quadratic(frame, centre, axes, rng)
    region = frame.grain & (np.einsum("i...,i...->...", q, q) <= 1.0)
    if (frame.depth[region] <= WALL).any():  # the wall: a void never opens onto the surface
        return None, 0.0
    return region, float(rng.uniform(0.0, 0.05))


def _crack(frame: _Frame, rng: np.random.Generator,
           fraction: tuple[float, float]) -> tuple[np.ndarray | None, float]:
    surface = np.argwhere(frame.surface)
    entry = surface[rng.integers(len(surface))].astype(np.float64)
    inward = frame.centre - entry
    reach = float(np.linalg.norm(inward))
    if reach < 2.0:
        return None, 0.0
    inward /= reach
    normal = random_unit_vector(rng)
    normal -= normal.dot(inward) * inward
    normal /= max(float(np.linalg.norm(normal)), 1e-9)
    lateral = np.cross(inward, normal)
    depth = rng.uniform(0.4, 0.85) * reach
    half_length = rng.uniform(0.35, 0.8) * frame.semi_axis(lateral)
    width = rng.uniform(1.3, 2.0) * max(1.0, frame.mean_radius / 14.0)
    offsets = frame.offsets(entry)
    s = np.tensordot(inward.astype(np.float32), offsets, axes=1)
    t = np.tensordot(lateral.astype(np.float32), offsets, axes=1)
    h = np.tensordot(normal.astype(np.float32), offsets, axes=1)
    local_width = width * (1.0 - 0.6 * np.clip(s / depth, 0.0, 1.0))
    region = frame.grain & ((s / depth) ** 2 + (t / half_length) ** 2 <= 1.0) & (np.abs(h) <= local_width / 2)
    if not (region & frame.surface).any():
        return None, 0.0
    return region, float(rng.uniform(0.0, 0.04))


def _low_density(frame: _Frame, rng: np.random.Generator,
                 fraction: tuple[float, float]) -> tuple[np.ndarray | None, float]:
    target = rng.uniform(max(fraction[0], 0.008), min(fraction[1], 0.045))
    axes = _ellipsoid_axes(target * frame.voxels, rng, 0.3)
    centre = _centre(frame, rng, WALL + 0.5)
    if centre is None:
        return None, 0.0
    q = _quadratic(frame, centre, axes, rng)
    dist = np.sqrt(np.einsum("i...,i...->...", q, q))
    for _ in range(2):  # lumpy outline
        k = rng.normal(size=3).astype(np.float32) * 2.5
        dist += 0.12 * np.cos(np.tensordot(k, q, axes=1) + rng.uniform(0, 2 * np.pi))
    region = frame.grain & (frame.depth > WALL) & (dist <= 1.0)
    return region, float(rng.uniform(*DENSITY_DROP))


def _cast(values: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """``values`` in ``dtype``: integer types rounded and clipped to their range."""
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return np.clip(np.rint(values), info.min, info.max).astype(dtype)
    return values.astype(dtype, copy=False)
