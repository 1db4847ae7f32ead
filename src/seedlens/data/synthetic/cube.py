"""Hyperspectral top views of rapeseed seeds on a dark tray, with labelled surface defects.

A cube is ``(bands, size, size)`` float32 reflectance in [0, 1] at ``bands`` wavelengths evenly spaced over
400–1000 nm. The scene:

* tray (background): dark and nearly flat, 3–6 % reflectance;
* seed: a near-circular disc (diameter 62–78 % of the image, axes within ±8 %, random position jitter of ±3 %)
  with a dark brown/black coat spectrum — 4–8 % in the visible, a red edge at 690–720 nm rising to 25–40 % in the
  NIR, a shallow water band at 970 nm (5–12 % deep) — shaded as a lit sphere (ambient 0.35, light from a random
  azimuth at 45–70° elevation), with a reticulate coat texture (±8 %) and a small grey specular highlight.
* noise: Gaussian per band, std ``sqrt(s_b² + (0.01 v)²)`` with ``s_b`` 0.004 in the middle of the range rising to
  0.012 at 400 and 1000 nm (weak sensor response); the SNR on the seed is **≈ 12 in the visible and ≈ 60 in the
  NIR**.

Defects (:data:`CUBE_DEFECT_TYPES`), fixed here and not tuned to any detector, each covering **0.5–5 %** of the
seed's area (:data:`~seedlens.data.synthetic.DEFECT_FRACTION_RANGE`; drawn again until it does):

* ``mould`` (spectral): a lumpy patch where 50–85 % of the coat is replaced by grey-green mycelium (bright and
  flat in the visible, 14–30 %, no red edge); spectral angle to the coat 14–28°.
* ``immature`` (spectral): a lumpy patch where 50–85 % of the coat is replaced by green immature tissue (green
  peak at 550 nm, chlorophyll absorption at 670 nm, a sharp red edge at ≈ 700 nm); spectral angle only
  3.5–8°, a shape change that brightness alone hardly reveals.
* ``crack`` (spatial): a thin dark fissure (1–1.6 px wide at sizes up to 36 px, scaling with the seed beyond),
  a bent line across 50–120 % of the radius where all bands drop to 30–55 % (shadow; spectrum shape kept).

``defect_mask`` marks the pixels the defect changed. Scene, defect and noise come from separate random streams,
so the same integer ``rng`` with and without a defect gives the same seed and noise.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from seedlens.data.synthetic import _spectra
from seedlens.data.synthetic._random import RNGLike, check_defect, check_size, child_generators
from seedlens.data.synthetic.phantom import DEFECT_FRACTION_RANGE

CUBE_DEFECT_TYPES: tuple[str, ...] = ("mould", "immature", "crack")
WAVELENGTH_RANGE_NM: tuple[float, float] = (400.0, 1000.0)


@dataclass
class SeedCube:
    """One synthetic hyperspectral image of a seed.

    Attributes:
        cube: ``(bands, H, W)`` float32 reflectance in [0, 1].
        wavelengths: ``(bands,)`` float32 band centres in nm, 400–1000.
        defect_mask: ``(1, H, W)`` bool, the pixels the defect changed (all False for a normal seed).
        seed_mask: ``(1, H, W)`` bool, the pixels of the seed.
        defect: One of :data:`CUBE_DEFECT_TYPES`, or None for a normal seed.
        params: The drawn defect parameters (``fraction`` and per-type values); empty for a normal seed.
    """

    cube: np.ndarray
    wavelengths: np.ndarray
    defect_mask: np.ndarray
    seed_mask: np.ndarray
    defect: str | None
    params: dict[str, float] = field(default_factory=dict)


@dataclass
class _Scene:
    u: np.ndarray  # (2, H, W) normalised seed coordinates (seed = unit disc)
    rho: np.ndarray
    radius: float  # pixels
    shading: np.ndarray  # (H, W) multiplicative shading x texture
    specular: np.ndarray  # (H, W) additive grey highlight
    alpha: np.ndarray  # (H, W) seed coverage with an anti-aliased rim


def _scene(size: int, rng: np.random.Generator) -> _Scene:
    radius = 0.5 * size * rng.uniform(0.62, 0.78)
    axes = radius * (1.0 + rng.uniform(-0.08, 0.08, size=2))
    centre = (size - 1) / 2.0 + rng.uniform(-0.03, 0.03, size=2) * size
    angle = rng.uniform(0, np.pi)
    c, s = np.cos(angle), np.sin(angle)
    y, x = np.meshgrid(np.arange(size, dtype=np.float32), np.arange(size, dtype=np.float32), indexing="ij")
    dy, dx = y - centre[0], x - centre[1]
    u = np.stack([(c * dx + s * dy) / axes[0], (-s * dx + c * dy) / axes[1]]).astype(np.float32)
    rho = np.sqrt(u[0] ** 2 + u[1] ** 2)
    h = np.sqrt(np.clip(1.0 - rho**2, 0.0, 1.0))
    az, el = rng.uniform(0, 2 * np.pi), np.radians(rng.uniform(45.0, 70.0))
    light = np.array([np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), np.sin(el)])
    n_dot_l = np.clip(u[0] * light[0] + u[1] * light[1] + h * light[2], 0.0, None)
    half = light + np.array([0.0, 0.0, 1.0])
    half /= np.linalg.norm(half)
    n_dot_h = np.clip(u[0] * half[0] + u[1] * half[1] + h * half[2], 0.0, None)
    texture = np.zeros_like(rho)
    freq = rng.uniform(14.0, 20.0)
    for _ in range(3):  # reticulate coat: three crossing ridge families
        k = rng.normal(size=2)
        k *= freq / np.linalg.norm(k)
        texture += np.abs(np.cos(k[0] * u[0] + k[1] * u[1] + rng.uniform(0, 2 * np.pi)))
    texture = 1.0 + 0.08 * (texture / 3.0 - 0.64) / 0.36
    return _Scene(
        u=u,
        rho=rho,
        radius=radius,
        shading=((0.35 + 0.65 * n_dot_l) * texture).astype(np.float32),
        specular=(rng.uniform(0.02, 0.05) * n_dot_h**30).astype(np.float32),
        alpha=np.clip((1.0 - rho) * radius + 0.5, 0.0, 1.0).astype(np.float32),
    )


def _lumpy_patch(scene: _Scene, rng: np.random.Generator) -> np.ndarray:
    target = rng.uniform(0.01, 0.045)
    radius = np.sqrt(target)
    aniso = np.exp(rng.uniform(-0.3, 0.3))
    axes = np.array([radius * aniso, radius / aniso])
    centre = _random_point(rng, max(0.0, 0.9 - axes.max()))
    angle = rng.uniform(0, np.pi)
    c, s = np.cos(angle), np.sin(angle)
    d0, d1 = scene.u[0] - centre[0], scene.u[1] - centre[1]
    q0, q1 = (c * d0 + s * d1) / axes[0], (-s * d0 + c * d1) / axes[1]
    dist = np.sqrt(q0**2 + q1**2)
    for _ in range(2):
        k = rng.normal(size=2) * 2.5
        dist += 0.15 * np.cos(k[0] * q0 + k[1] * q1 + rng.uniform(0, 2 * np.pi))
    return (dist <= 1.0) & (scene.rho <= 0.95)


def _random_point(rng: np.random.Generator, max_radius: float) -> np.ndarray:
    phi = rng.uniform(0, 2 * np.pi)
    r = max_radius * np.sqrt(rng.uniform())
    return np.array([r * np.cos(phi), r * np.sin(phi)])


def _spectral_patch(kind: Callable[[np.ndarray, np.random.Generator], np.ndarray]) -> Callable[..., tuple]:
    def draw(scene: _Scene, wl: np.ndarray, coat: np.ndarray, rng: np.random.Generator) -> tuple:
        region = _lumpy_patch(scene, rng)
        weight = rng.uniform(0.5, 0.85)
        other = kind(wl, rng)
        mixed = (1.0 - weight) * coat + weight * other
        spectra = np.broadcast_to(coat[:, None, None], (wl.size, *region.shape)).copy()
        spectra[:, region] = mixed[:, None]
        params = {"weight": weight, "spectral_angle": _spectra.spectral_angle(coat, mixed)}
        return spectra, np.ones(region.shape, np.float32), region, params

    return draw


def _crack(scene: _Scene, wl: np.ndarray, coat: np.ndarray, rng: np.random.Generator) -> tuple:
    length = rng.uniform(0.5, 1.2)
    width = rng.uniform(1.0, 1.6) * max(1.0, scene.radius / 14.0) / scene.radius
    mid = _random_point(rng, 0.45)
    direction = rng.uniform(0, 2 * np.pi)
    bend = rng.uniform(-0.5, 0.5)
    ends = []
    for sign in (-1.0, 1.0):
        theta = direction + (0 if sign > 0 else np.pi) + bend
        ends.append(mid + 0.5 * length * np.array([np.cos(theta), np.sin(theta)]))
    dist = np.minimum(_segment_distance(scene.u, mid, ends[0]), _segment_distance(scene.u, mid, ends[1]))
    region = (dist <= width / 2) & (scene.rho <= 0.97)
    darkening = rng.uniform(0.3, 0.55)
    factor = np.where(region, np.float32(darkening), np.float32(1.0)).astype(np.float32)
    spectra = np.broadcast_to(coat[:, None, None], (wl.size, *region.shape))
    return spectra, factor, region, {"length": length, "darkening": darkening}


def _segment_distance(u: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    ab = b - a
    t = np.clip(((u[0] - a[0]) * ab[0] + (u[1] - a[1]) * ab[1]) / float(ab @ ab), 0.0, 1.0)
    return np.hypot(u[0] - a[0] - t * ab[0], u[1] - a[1] - t * ab[1])


_DEFECTS = {
    "mould": _spectral_patch(_spectra.mould),
    "immature": _spectral_patch(_spectra.immature),
    "crack": _crack,
}


def _band_noise_std(wl: np.ndarray) -> np.ndarray:
    lo, hi = WAVELENGTH_RANGE_NM
    edge = np.exp(-(wl - lo) / 40.0) + np.exp(-(hi - wl) / 40.0)
    return 0.004 * (1.0 + 2.0 * np.clip(edge, 0.0, 1.0))


def _render(
    scene: _Scene,
    wl: np.ndarray,
    spectra: np.ndarray,
    tray: np.ndarray,
    factor: np.ndarray,
    noise_rng: np.random.Generator,
) -> np.ndarray:
    """Shade the seed spectra (``(bands, H, W)`` or ``(bands, 1, 1)``), lay them on the tray and add sensor noise."""
    gradient = 1.0 + 0.05 * (scene.u[0] / 2.0)  # uneven tray illumination
    seed_signal = spectra * (scene.shading * factor)[None] + (scene.specular * factor)[None]
    background = tray[:, None, None] * gradient[None]
    clean = scene.alpha[None] * seed_signal + (1.0 - scene.alpha[None]) * background
    std = np.sqrt(_band_noise_std(wl)[:, None, None] ** 2 + (0.01 * clean) ** 2)
    noisy = clean + std * noise_rng.standard_normal(clean.shape)
    return np.clip(noisy, 0.0, 1.0).astype(np.float32)


def make_seed_cube(size: int = 32, bands: int = 64, defect: str | None = None, rng: RNGLike = None) -> SeedCube:
    """Generate one hyperspectral image of a seed on a dark tray, optionally with a defect.

    Args:
        size: Edge length of the square image in pixels (>= 16).
        bands: Number of spectral bands (>= 8), evenly spaced over 400–1000 nm.
        defect: None for a normal seed, or one of :data:`CUBE_DEFECT_TYPES`.
        rng: A numpy Generator (advanced by the call), an int seed, or None for fresh entropy.

    Returns:
        A :class:`SeedCube` with ``cube`` ``(bands, size, size)`` float32 in [0, 1] and masks ``(1, size, size)``.

    Raises:
        ConfigError: If ``size`` or ``bands`` is too small or not an int.
        UnknownNameError: If ``defect`` is not None and not a known cube defect type.
    """
    check_size(size, 16)
    if isinstance(bands, bool) or not isinstance(bands, (int, np.integer)) or bands < 8:
        from seedlens.errors import ConfigError

        raise ConfigError(f"bands must be an int >= 8; got {bands!r}")
    check_defect(defect, CUBE_DEFECT_TYPES)
    scene_rng, defect_rng, noise_rng = child_generators(rng, 3)
    wl = np.linspace(*WAVELENGTH_RANGE_NM, int(bands))
    scene = _scene(int(size), scene_rng)
    coat = _spectra.coat(wl, scene_rng)
    tray = _spectra.tray(wl, scene_rng)
    seed = scene.rho <= 1.0

    spectra = np.broadcast_to(coat[:, None, None], (wl.size, size, size))
    factor = np.ones((size, size), np.float32)
    mask = np.zeros((size, size), dtype=bool)
    params: dict[str, float] = {}
    if defect is not None:
        lo, hi = DEFECT_FRACTION_RANGE
        for _ in range(200):
            spectra, factor, mask, params = _DEFECTS[defect](scene, wl, coat, defect_rng)
            params["fraction"] = float(mask.sum() / seed.sum())
            if lo <= params["fraction"] <= hi:
                break
        else:
            raise RuntimeError(f"could not place a {defect!r} defect covering {DEFECT_FRACTION_RANGE} of the seed")

    return SeedCube(
        cube=_render(scene, wl, spectra, tray, factor, noise_rng),
        wavelengths=wl.astype(np.float32),
        defect_mask=mask[None],
        seed_mask=seed[None],
        defect=defect,
        params=params,
    )
