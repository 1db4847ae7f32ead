"""A simple RGB top view of a dark rapeseed seed on a light-grey tray, with pale patches on its coat.

The scene (seed outline, lit-sphere shading with the reticulate coat texture, specular highlight) is the one of
:mod:`~seedlens.data.synthetic.cube`. Colours, each scaled by a per-seed factor: coat dark brown/black
(0.20, 0.11, 0.07) × 0.85–1.15; patches pale whitish grey-green (0.72, 0.76, 0.66) × 0.9–1.05 (mould or a
discoloured coat); tray light grey (0.74, 0.74, 0.72) × 0.9–1.05, lit with a weak gradient (± 2 % per seed
radius). Patches are lumpy blobs: a Gaussian-smoothed random field of σ = size / 12 thresholded at the quantile
that gives the wanted area, so the area is exact to a pixel. Noise: Gaussian, std 0.015 per channel.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from seedlens.data.synthetic._random import child_generators
from seedlens.data.synthetic.cube import _scene

COAT_RGB = (0.20, 0.11, 0.07)
TRAY_RGB = (0.74, 0.74, 0.72)
PATCH_RGB = (0.72, 0.76, 0.66)
RGB_NOISE = 0.015


def render_rgb(size: int, area: float, rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """``(3, size, size)`` float32 RGB in [0, 1] with patches covering ``area`` of the seed, and the covered fraction.

    The scene, patch and noise streams are separate, so the same ``rng`` with another ``area`` gives the same seed
    and noise.
    """
    scene_rng, patch_rng, noise_rng = child_generators(rng, 3)
    scene = _scene(size, scene_rng)
    seed = scene.rho <= 1.0
    coat = np.array(COAT_RGB) * scene_rng.uniform(0.85, 1.15)
    patch_colour = np.array(PATCH_RGB) * scene_rng.uniform(0.9, 1.05)
    tray = np.array(TRAY_RGB) * scene_rng.uniform(0.9, 1.05)
    patches = np.zeros((size, size), dtype=bool)
    if area > 0:
        field = ndimage.gaussian_filter(patch_rng.standard_normal((size, size)), sigma=max(1.0, size / 12))
        level = np.quantile(field[seed], 1.0 - area)
        patches = seed & (field > level)
    colour = np.where(patches[None], patch_colour[:, None, None], coat[:, None, None])
    seed_signal = colour * scene.shading[None] + scene.specular[None]
    gradient = 1.0 + 0.04 * (scene.u[0] / 2.0)
    background = tray[:, None, None] * gradient[None]
    clean = scene.alpha[None] * seed_signal + (1.0 - scene.alpha[None]) * background
    noisy = clean + RGB_NOISE * noise_rng.standard_normal(clean.shape)
    return np.clip(noisy, 0.0, 1.0).astype(np.float32), float(patches.sum() / max(1, seed.sum()))
