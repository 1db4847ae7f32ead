"""CT volume of a multi-modal seed: the phantom anatomy with internal damage covering a prescribed fraction.

One void of :mod:`~seedlens.data.synthetic._defects3d` covers at most ≈ 4.5 % of the seed, so a larger target is
split into pieces of at most :data:`PIECE_FRACTION` each (± 20 %), placed one after the other with
:func:`~seedlens.data.synthetic._defects3d.apply_defect` on the already damaged seed (a piece overlapping an
earlier one only counts the voxels it newly changes). Half of the seeds with a target of at least
:data:`MIN_CRACK_TARGET` start with a crack from the surface (0.5–2.2 % of the seed, at most 55 % of the target);
the last piece is drawn until the total lies within ± :data:`TOLERANCE` (relative) of the target. Blur and
noise are those of :func:`~seedlens.data.synthetic.phantom.make_seed_volume`.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
from scipy import ndimage

from seedlens.data.synthetic._anatomy import Anatomy, make_anatomy
from seedlens.data.synthetic._defects3d import apply_defect
from seedlens.data.synthetic._random import child_generators
from seedlens.data.synthetic.phantom import BLUR_SIGMA, NOISE_GAIN, NOISE_STD_AIR

PIECE_FRACTION = 0.03
TOLERANCE = 0.08
MIN_CRACK_TARGET = 0.0165
CRACK_FRACTION: tuple[float, float] = (0.005, 0.022)
P_CRACK = 0.5
MIN_TOLERANCE_VOXELS = 1.5
MAX_TRIES = 100


def place_damage(anat: Anatomy, target: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Clean values with voids (and maybe a crack) covering ``target`` ± 8 % of the seed, and the changed mask.

    The tolerance is at least :data:`MIN_TOLERANCE_VOXELS` voxels (it matters below 32³). Should a piece not fit
    its window in :data:`MAX_TRIES` draws (small grids), a crack is left out and a void's window is widened.

    Args:
        anat: The undamaged anatomy.
        target: Fraction of the seed's voxels to change, 0.01–0.14 (0: no damage).
        rng: Random stream of the damage.

    Returns:
        ``(values, mask)``: float32 clean attenuation and the bool mask of changed voxels.
    """
    mask = np.zeros(anat.values.shape, dtype=bool)
    if target <= 0:
        return anat.values, mask
    seed_voxels = int(anat.seed.sum())
    current = anat

    def add(defect: str, low: float, high: float) -> bool:
        nonlocal current
        try:
            values, changed, _ = apply_defect(current, defect, rng, (low, high), max_tries=MAX_TRIES)
        except RuntimeError:
            return False
        mask[changed] = True  # apply_defect compares with the seed as it is now: overlaps are not counted twice
        current = replace(current, values=values)
        return True

    if target >= MIN_CRACK_TARGET and rng.uniform() < P_CRACK:
        add("crack", CRACK_FRACTION[0], min(CRACK_FRACTION[1], 0.55 * target))
    tolerance = max(TOLERANCE * target, MIN_TOLERANCE_VOXELS / seed_voxels)
    while True:
        remaining = target - float(mask.sum() / seed_voxels)
        pieces = math.ceil(remaining / PIECE_FRACTION)
        centre, half = (remaining, tolerance) if pieces <= 1 else (remaining / pieces, 0.2 * remaining / pieces)
        while not add("void", max(centre - half, 0.0), centre + half):
            half *= 2.0
        if pieces <= 1:
            break
    return current.values, mask


def render_ct(target: float, size: int, rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """``(1, size, size, size)`` float32 CT volume with damage covering ``target`` of the seed, and the fraction.

    The anatomy, damage and noise streams are separate, so the same ``rng`` with another ``target`` gives the same
    seed and noise.
    """
    anatomy_rng, damage_rng, noise_rng = child_generators(rng, 3)
    anat = make_anatomy(size, anatomy_rng)
    values, mask = place_damage(anat, target, damage_rng)
    blurred = ndimage.gaussian_filter(values, sigma=BLUR_SIGMA, mode="constant")
    std = np.sqrt(NOISE_STD_AIR**2 + NOISE_GAIN * np.maximum(blurred, 0.0))
    noisy = blurred + std * noise_rng.standard_normal(blurred.shape, dtype=np.float32)
    return noisy.astype(np.float32)[None], float(mask.sum() / anat.seed.sum())
