"""Reflectance spectra (400–1000 nm) of a dark rapeseed coat, its defects and a dark tray."""

from __future__ import annotations

import numpy as np


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _gauss(wl: np.ndarray, centre: float, width: float) -> np.ndarray:
    return np.exp(-0.5 * ((wl - centre) / width) ** 2)


def water_dip(wl: np.ndarray, depth: float) -> np.ndarray:
    """Multiplicative water absorption near 970 nm (and a weaker one near 840 nm is ignored)."""
    return 1.0 - depth * _gauss(wl, 970.0, 18.0)


def coat(wl: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Dark brown/black seed coat: 4–8 % in the visible, red edge at 690–720 nm, 25–40 % in the NIR."""
    vis0, vis1 = rng.uniform(0.035, 0.05), rng.uniform(0.055, 0.08)
    visible = vis0 + (vis1 - vis0) * np.clip((wl - 400.0) / 300.0, 0.0, 1.0)
    nir = rng.uniform(0.2, 0.32) * _sigmoid((wl - rng.uniform(690.0, 720.0)) / rng.uniform(15.0, 22.0))
    slope = 1.0 + rng.uniform(-0.05, 0.1) * np.clip((wl - 750.0) / 250.0, 0.0, 1.0)
    return (visible + nir * slope) * water_dip(wl, rng.uniform(0.05, 0.12))


def mould(wl: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Grey-green mycelium: bright and flat across the visible (a weak green bump), no red edge to speak of."""
    base = rng.uniform(0.14, 0.22) + rng.uniform(0.03, 0.08) * (wl - 400.0) / 600.0
    green = rng.uniform(0.0, 0.03) * _gauss(wl, 530.0, 40.0)
    return (base + green) * water_dip(wl, rng.uniform(0.08, 0.15))


def immature(wl: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Green immature seed: green peak near 550 nm, chlorophyll absorption at 670 nm, sharp red edge at 700 nm."""
    green = 0.05 + rng.uniform(0.05, 0.08) * _gauss(wl, 550.0, 30.0)
    chlorophyll = 1.0 - rng.uniform(0.4, 0.6) * _gauss(wl, 672.0, 14.0)
    nir = rng.uniform(0.3, 0.42) * _sigmoid((wl - rng.uniform(695.0, 710.0)) / 9.0)
    return (green * chlorophyll + nir) * water_dip(wl, rng.uniform(0.1, 0.18))


def tray(wl: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Dark, nearly flat background tray (3–6 %)."""
    level = rng.uniform(0.03, 0.05)
    return level + rng.uniform(0.0, 0.012) * (wl - 400.0) / 600.0


def spectral_angle(a: np.ndarray, b: np.ndarray) -> float:
    """Angle (degrees) between two spectra; 0 means the same shape whatever the brightness."""
    cos = float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))
    return float(np.degrees(np.arccos(np.clip(cos, -1.0, 1.0))))
