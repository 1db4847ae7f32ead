"""Hyperspectral cube of a multi-modal seed: the scene of :mod:`~seedlens.data.synthetic.cube`, greener when immature.

The coat spectrum of :func:`~seedlens.data.synthetic._spectra.coat` is multiplied by a chlorophyll absorption at
672 nm (σ = 16 nm) of relative depth ``CHLOROPHYLL_DEPTH · (1 - maturity)`` and gets a green bump at 550 nm
(σ = 30 nm) of ``GREEN_BUMP · (1 - maturity)`` reflectance, uniformly over the coat; tray, shading, highlight and
sensor noise are those of :func:`~seedlens.data.synthetic.cube.make_seed_cube`, without spatial defects.
"""

from __future__ import annotations

import numpy as np

from seedlens.data.synthetic import _spectra
from seedlens.data.synthetic._random import child_generators
from seedlens.data.synthetic._seedstate import CHLOROPHYLL_DEPTH, GREEN_BUMP
from seedlens.data.synthetic.cube import WAVELENGTH_RANGE_NM, _render, _scene

CHLOROPHYLL_NM, CHLOROPHYLL_WIDTH_NM = 672.0, 16.0
GREEN_NM, GREEN_WIDTH_NM = 550.0, 30.0


def _gauss(wl: np.ndarray, centre: float, width: float) -> np.ndarray:
    return np.exp(-0.5 * ((wl - centre) / width) ** 2)


def immature_coat(wl: np.ndarray, coat: np.ndarray, maturity: float) -> np.ndarray:
    """The coat spectrum with the chlorophyll absorption and green bump of a seed of the given maturity."""
    immaturity = 1.0 - maturity
    absorbed = coat * (1.0 - CHLOROPHYLL_DEPTH * immaturity * _gauss(wl, CHLOROPHYLL_NM, CHLOROPHYLL_WIDTH_NM))
    return absorbed + GREEN_BUMP * immaturity * _gauss(wl, GREEN_NM, GREEN_WIDTH_NM)


def render_hsi(maturity: float, size: int, bands: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``(bands, size, size)`` float32 reflectance in [0, 1] and the ``(bands,)`` float32 wavelengths in nm.

    The scene and noise streams are separate, so the same ``rng`` with another maturity gives the same seed.
    """
    scene_rng, noise_rng = child_generators(rng, 2)
    wl = np.linspace(*WAVELENGTH_RANGE_NM, bands)
    scene = _scene(size, scene_rng)
    coat = immature_coat(wl, _spectra.coat(wl, scene_rng), maturity)
    tray = _spectra.tray(wl, scene_rng)
    cube = _render(scene, wl, coat[:, None, None], tray, np.ones((size, size), np.float32), noise_rng)
    return cube, wl.astype(np.float32)
