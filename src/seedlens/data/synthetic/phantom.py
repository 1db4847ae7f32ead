"""CT-like rapeseed seed phantoms with labelled internal defects.

A phantom is a ``size``³ volume of one near-spherical seed (diameter 68–80 % of the field of view, semi-axes
within ±8 % of each other, random orientation and position jitter of ±3 %) with:

* a seed coat: a dense shell (attenuation 0.95–1.05), 1.3 voxels or 7 % of the radius thick;
* two folded cotyledons filling most of the seed (0.64–0.74, layered texture of ±0.025 and a weak smooth
  field of ±0.036), separated by a thin low-density gap (0.14–0.24, 0.8 voxels or 3.5 % of the radius)
  whose fold differs per seed;
* an embryo axis (radicle, 0.04–0.08 denser than the cotyledons): a tapering rod of 17–22 % of the radius
  curved along the inside of the coat over 76–108°, wrapped by its own thin gap. Air is 0.

The clean volume is blurred with a Gaussian of σ = 0.6 voxels (partial volume) and noise is added with a
Poisson-like standard deviation ``sqrt(0.03² + 0.0025 · v)``: 0.03 in air, ≈ 0.05 in tissue. The
signal-to-noise ratio, tissue-to-air contrast over the noise std in tissue, is **≈ 14**.

Defects (:data:`DEFECT_TYPES`); the difficulty is fixed here and not tuned to any detector:

* ``crack``: a planar fissure of air (0–0.04), 1.3–2 voxels wide at the coat for seed radii up to 14 voxels
  (9–14 % of the radius beyond), tapering to 40 % of that inwards,
  entering from the surface to 40–85 % of the radius, a half-ellipse in its plane;
* ``void``: an ellipsoidal air cavity (0–0.05) fully inside the coat;
* ``shrivelled_embryo``: the radicle shrunk to 40–65 % of its radius and 60–90 % of its length; the freed
  space holds air or low-density tissue (0.03–0.2);
* ``low_density``: an irregular region of dead tissue whose attenuation drops by 15–30 % of the
  tissue-to-air contrast (:data:`MAX_DENSITY_DROP`), i.e. a contrast-to-noise ratio of ≈ 2–4.5 per voxel.

Every defect covers **0.5–5 %** of the seed's voxels (:data:`DEFECT_FRACTION_RANGE`); the generator draws
again until it does. ``defect_mask`` marks the voxels whose clean attenuation the defect changed by more
than 0.05. Anatomy, defect and noise come from separate random streams: the same integer ``rng`` gives the
same seed and noise with any ``defect``, so normal/defective pairs differ only by the defect.

Voxels are isotropic with spacing ``2.6 mm / size`` (a 2.6 mm field of view: 0.081 mm at 32³, 0.041 mm at 64³),
so a seed is 1.8–2.1 mm across like a real rapeseed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from seedlens.data.synthetic._anatomy import make_anatomy
from seedlens.data.synthetic._defects3d import apply_defect
from seedlens.data.synthetic._random import RNGLike, check_defect, check_size, child_generators

DEFECT_TYPES: tuple[str, ...] = ("crack", "void", "shrivelled_embryo", "low_density")
DEFECT_FRACTION_RANGE: tuple[float, float] = (0.005, 0.05)
MAX_DENSITY_DROP = 0.30
BLUR_SIGMA = 0.6
NOISE_STD_AIR = 0.03
NOISE_GAIN = 0.0025
FIELD_OF_VIEW_MM = 2.6


@dataclass
class SeedPhantom:
    """One synthetic CT volume of a seed.

    Attributes:
        volume: ``(1, D, H, W)`` float32 attenuation (air ≈ 0, tissue ≈ 0.6–0.8, coat ≈ 1), blurred and noisy.
        defect_mask: ``(1, D, H, W)`` bool, the voxels the defect changed (all False for a normal seed).
        seed_mask: ``(1, D, H, W)`` bool, the voxels inside the seed (coat included).
        defect: The defect type, or None for a normal seed.
        spacing: Voxel size in mm along ``(D, H, W)``.
        params: The drawn defect parameters (e.g. ``fraction``, ``density_drop``); empty for a normal seed.
    """

    volume: np.ndarray
    defect_mask: np.ndarray
    seed_mask: np.ndarray
    defect: str | None
    spacing: tuple[float, float, float]
    params: dict[str, float] = field(default_factory=dict)

    @property
    def affine(self) -> np.ndarray:
        """4×4 voxel-to-world (mm) matrix for the index vector ``(w, h, d, 1)``, centred on the volume."""
        spacing = np.asarray(self.spacing[::-1], dtype=float)
        shape = np.asarray(self.volume.shape[1:][::-1], dtype=float)
        affine = np.diag([*spacing, 1.0])
        affine[:3, 3] = -spacing * (shape - 1) / 2.0
        return affine


def make_seed_volume(size: int = 32, defect: str | None = None, rng: RNGLike = None) -> SeedPhantom:
    """Generate one CT-like seed phantom, optionally with a defect.

    Args:
        size: Edge length of the cubic volume in voxels (>= 16).
        defect: None for a normal seed, or one of :data:`DEFECT_TYPES`.
        rng: A numpy Generator (advanced by the call), an int seed, or None for fresh entropy.

    Returns:
        A :class:`SeedPhantom` with ``volume`` ``(1, size, size, size)`` float32 and masks of the same shape.

    Raises:
        ConfigError: If ``size`` is not an int >= 16.
        UnknownNameError: If ``defect`` is not None and not a known defect type.
    """
    check_size(size, 16)
    check_defect(defect, DEFECT_TYPES)
    anatomy_rng, defect_rng, noise_rng = child_generators(rng, 3)
    anat = make_anatomy(int(size), anatomy_rng)
    values = anat.values
    mask = np.zeros(values.shape, dtype=bool)
    params: dict[str, float] = {}
    if defect is not None:
        values, mask, params = apply_defect(anat, defect, defect_rng, DEFECT_FRACTION_RANGE)

    blurred = ndimage.gaussian_filter(values, sigma=BLUR_SIGMA, mode="constant")
    std = np.sqrt(NOISE_STD_AIR**2 + NOISE_GAIN * np.maximum(blurred, 0.0))
    noisy = blurred + std * noise_rng.standard_normal(blurred.shape, dtype=np.float32)
    spacing = FIELD_OF_VIEW_MM / size
    return SeedPhantom(
        volume=noisy.astype(np.float32, copy=False)[None],
        defect_mask=mask[None],
        seed_mask=anat.seed[None],
        defect=defect,
        spacing=(spacing, spacing, spacing),
        params=params,
    )
