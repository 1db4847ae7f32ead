"""A hyperspectral camera's raw frame of a tray of seeds, with its white and dark references and the truth.

The scene, ``(bands, H, W)`` over 400–1000 nm:

* a tray of dark plastic (reflectance of :func:`~seedlens.data.synthetic._spectra.tray`);
* ``rows × cols`` seeds on a grid (pitch ``pitch`` pixels, centres jittered by ±10 % of it), each an ellipse
  with semi-axes of 35–45 % and 25–35 % of the pitch at a random angle, with the reflectance of a dark rapeseed
  coat (:func:`~seedlens.data.synthetic._spectra.coat`) times a smooth shading of std 5 %; ``missing`` grid positions
  are left empty (a lab's tray is rarely full);
* the sensor: dark current ``dark`` 180–220 counts per band (+ a fixed per-pixel pattern of std 3 counts), a
  white reference of ``dark + gain(band)``, gain 2,500–3,500 counts with a smooth spectral shape and 1 % of
  pixel-to-pixel non-uniformity; ``raw = dark + (white - dark) × reflectance + noise`` (std 4 counts), as
  12-bit counts (uint16, clipped at 4,095). With ``dead_bands``, those bands have a white reference equal to the
  dark one (a dead detector row).

``labels`` holds 0 on the tray and ``k`` inside seed k (1-based, row-major over the filled grid positions);
``positions[k - 1]`` is the seed's ``(row, column)``, both 1-based.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from seedlens.data.synthetic import _spectra
from seedlens.data.synthetic._random import RNGLike

MAX_COUNT = 4095


@dataclass
class TrayScan:
    """Raw frame, references and truth of one tray.

    Attributes:
        raw: ``(bands, H, W)`` uint16 sensor counts.
        white: ``(bands, H, W)`` uint16 white-reference counts.
        dark: ``(bands, H, W)`` uint16 dark-reference counts.
        reflectance: ``(bands, H, W)`` float32 true reflectance.
        labels: ``(H, W)`` int32 seed labels (0 = tray).
        positions: ``(row, column)`` of each seed, 1-based.
        wavelengths: Band centres in nm.
    """

    raw: np.ndarray
    white: np.ndarray
    dark: np.ndarray
    reflectance: np.ndarray
    labels: np.ndarray
    positions: list[tuple[int, int]]
    wavelengths: np.ndarray


def make_tray_scan(
    rows: int = 3,
    cols: int = 4,
    *,
    pitch: int = 16,
    bands: int = 24,
    missing: int = 0,
    dead_bands: tuple[int, ...] = (),
    rng: RNGLike = None,
) -> TrayScan:
    """Draw one tray scan.

    Args:
        rows: Grid rows.
        cols: Grid columns.
        pitch: Grid spacing in pixels (≥ 8).
        bands: Spectral bands over 400–1000 nm.
        missing: Grid positions left empty (chosen at random).
        dead_bands: Band indices whose white reference equals the dark one.
        rng: Seed or generator.
    """
    if rows < 1 or cols < 1 or pitch < 8 or bands < 2:
        raise ValueError(f"need rows, cols >= 1, pitch >= 8 and bands >= 2; got {rows}, {cols}, {pitch}, {bands}")
    if not 0 <= missing < rows * cols:
        raise ValueError(f"missing must be between 0 and rows * cols - 1 = {rows * cols - 1}, got {missing}")
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    wl = np.linspace(400.0, 1000.0, bands)
    height, width = rows * pitch + pitch // 2, cols * pitch + pitch // 2
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    reflectance = np.repeat(_spectra.tray(wl, gen)[:, None, None], height, axis=1).repeat(width, axis=2)
    labels = np.zeros((height, width), np.int32)
    empty = set(gen.choice(rows * cols, size=missing, replace=False).tolist()) if missing else set()
    positions: list[tuple[int, int]] = []
    for r in range(rows):
        for c in range(cols):
            if r * cols + c in empty:
                continue
            cy = (r + 0.75) * pitch + gen.uniform(-0.1, 0.1) * pitch
            cx = (c + 0.75) * pitch + gen.uniform(-0.1, 0.1) * pitch
            a, b = gen.uniform(0.35, 0.45) * pitch, gen.uniform(0.25, 0.35) * pitch
            angle = gen.uniform(0, np.pi)
            u = (xx - cx) * np.cos(angle) + (yy - cy) * np.sin(angle)
            v = -(xx - cx) * np.sin(angle) + (yy - cy) * np.cos(angle)
            inside = (u / a) ** 2 + (v / b) ** 2 <= 1.0
            field = ndimage.gaussian_filter(gen.normal(size=(height, width)), 2.0)
            shading = 1.0 + 0.05 * field / max(float(field.std()), 1e-6)
            coat = _spectra.coat(wl, gen)
            reflectance[:, inside] = coat[:, None] * shading[inside][None, :]
            positions.append((r + 1, c + 1))
            labels[inside] = len(positions)
    gain_shape = 2500.0 + 1000.0 * np.exp(-0.5 * ((wl - gen.uniform(600, 800)) / 250.0) ** 2)
    dark = gen.uniform(180, 220, size=bands)[:, None, None] + gen.normal(0, 3, size=(1, height, width))
    gain = gain_shape[:, None, None] * (1.0 + 0.01 * gen.normal(size=(1, height, width)))
    for band in dead_bands:
        gain[band] = 0.0
    white = dark + gain
    raw = dark + gain * reflectance + gen.normal(0, 4, size=reflectance.shape)

    def counts(x: np.ndarray) -> np.ndarray:
        return np.clip(np.round(x), 0, MAX_COUNT).astype(np.uint16)

    return TrayScan(counts(raw), counts(white), counts(dark), reflectance.astype(np.float32), labels, positions, wl)
