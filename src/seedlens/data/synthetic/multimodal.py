"""Multi-modal synthetic seeds for fusion: CT volume, hyperspectral cube, RGB photo and table, from a hidden state.

The generative story (fixed here, not tuned to any model). Each seed has a hidden state drawn independently:

* ``damage`` d — 0 with probability 0.5, else Uniform(0, 1). Visible **only in the CT**: 1–3 ellipsoidal air
  voids inside the coat whose union covers about ``0.01 + 0.12 d`` of the seed volume (none when d = 0), on the
  anatomy, blur and noise of :mod:`~seedlens.data.synthetic.phantom`.
* ``maturity`` m ~ Uniform(0, 1). Visible **only in the hyperspectral cube**: the coat spectrum of
  :mod:`~seedlens.data.synthetic.cube` gets a chlorophyll absorption at 672 nm of relative depth ``0.6 (1 - m)``
  and a green bump at 550 nm of ``0.02 (1 - m)`` reflectance (immature seeds are greener); scene, shading and
  noise as in that module, no spatial defect.
* ``coat`` condition c ~ Uniform(0, 1), 1 = perfect. Visible **only in the RGB photo**: a dark brown seed on a
  light-grey tray with pale grey-green mould / discoloured patches covering ``0.4 (1 - c)^1.5`` of the seed.
* ``lot`` — one of ``L1``–``L4`` uniformly. Visible in the **table**: the ``lot`` column, and the seed's weight
  (mg) ``4.0 + lot offset (-0.4, 0, +0.3, +0.6) + 1.2 m - 0.8 d + N(0, 0.25)``.

Germination (``normal`` / ``abnormal`` / ``dead``), then label noise (probability 0.05: a uniformly random class):

* **dead** if d > 0.65, or if m < 0.5 **and** c < 0.5 — the cross-modal interaction (cube × RGB) that only a
  model seeing both at once can learn;
* else **abnormal** if 0.35 < d ≤ 0.65, or if 0.2 < d ≤ 0.35 and m < 0.5 (CT × cube);
* else **normal**.

Traits: ``oil_content`` (%) ``= 42 + 6 m - 4 d + lot offset (-1, 0, +0.5, +1.5) + N(0, 0.7)``;
``thousand_seed_weight`` (g) = the noise-free weight above (mg per seed = g per 1000 seeds) ``+ N(0, 0.1)``.

Measured by simulation of the hidden state (:func:`oracle_macro_f1`, 100,000 seeds): classes normal 48 %,
dead 38 %, abnormal 14 %; macro-F1 of the Bayes-optimal rule that sees the hidden variable(s) of one modality
only: CT 0.73, cube 0.44, RGB 0.43, table 0.46; of the rule that sees the whole state 0.96 (label noise caps it).
A fused model can thus beat the best single modality by up to about 0.23 macro-F1, the late fusion of
single-modality models by less (averaging probabilities cannot express "dead only when both").
"""

from __future__ import annotations

import csv
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from scipy import ndimage

from seedlens.data.synthetic import _spectra
from seedlens.data.synthetic._anatomy import make_anatomy
from seedlens.data.synthetic._files import write_envi, write_nifti, write_rgb_png
from seedlens.data.synthetic._random import RNGLike, check_size, child_generators, random_rotation, random_unit_vector
from seedlens.data.synthetic.cube import WAVELENGTH_RANGE_NM, _band_noise_std, _scene
from seedlens.data.synthetic.phantom import BLUR_SIGMA, FIELD_OF_VIEW_MM, NOISE_GAIN, NOISE_STD_AIR
from seedlens.errors import ConfigError

CLASSES: tuple[str, ...] = ("normal", "abnormal", "dead")
LOTS: tuple[str, ...] = ("L1", "L2", "L3", "L4")
P_UNDAMAGED = 0.5
VOID_FRACTION = (0.01, 0.12)  # covered seed fraction = VOID_FRACTION[0] + VOID_FRACTION[1] * damage
CHLOROPHYLL_DEPTH = 0.6
GREEN_BUMP = 0.02
MOULD_AREA = 0.4
DEAD_DAMAGE, ABNORMAL_DAMAGE, MILD_DAMAGE = 0.65, 0.35, 0.2
LOW_MATURITY, POOR_COAT = 0.5, 0.5
LABEL_NOISE = 0.05
LOT_WEIGHT = {"L1": -0.4, "L2": 0.0, "L3": 0.3, "L4": 0.6}
LOT_OIL = {"L1": -1.0, "L2": 0.0, "L3": 0.5, "L4": 1.5}
WEIGHT_NOISE, OIL_NOISE, TSW_NOISE = 0.25, 0.7, 0.1

MANIFEST_COLUMNS: tuple[str, ...] = ("sample_id", "split", "ct", "hsi", "rgb", "weight", "lot", "germination",
                                     "oil_content", "thousand_seed_weight")
HIDDEN_FILE = "hidden_state.csv"


def germination_rule(damage: float, maturity: float, coat: float) -> str:
    """The noise-free germination class of a hidden state (see the module docstring)."""
    if damage > DEAD_DAMAGE or (maturity < LOW_MATURITY and coat < POOR_COAT):
        return "dead"
    if ABNORMAL_DAMAGE < damage <= DEAD_DAMAGE or (MILD_DAMAGE < damage <= ABNORMAL_DAMAGE and maturity < LOW_MATURITY):
        return "abnormal"
    return "normal"


@dataclass
class SeedState:
    """The hidden state of one seed and what follows from it.

    Attributes:
        damage: Internal damage in [0, 1] (CT only).
        maturity: Maturity in [0, 1] (cube only).
        coat: Seed-coat condition in [0, 1], 1 = perfect (RGB only).
        lot: Seed lot (table).
        weight: Seed weight in mg (table).
        germination: Observed class (with label noise).
        germination_clean: Class from :func:`germination_rule` before label noise.
        oil_content: Oil content in %.
        thousand_seed_weight: Thousand-seed weight in g.
    """

    damage: float
    maturity: float
    coat: float
    lot: str
    weight: float
    germination: str
    germination_clean: str
    oil_content: float
    thousand_seed_weight: float


def draw_seed_state(rng: RNGLike = None) -> SeedState:
    """Draw one hidden state and its labels and traits (see the module docstring)."""
    g = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    damage = 0.0 if g.uniform() < P_UNDAMAGED else float(g.uniform())
    maturity, coat = float(g.uniform()), float(g.uniform())
    lot = LOTS[int(g.integers(len(LOTS)))]
    mean_weight = 4.0 + LOT_WEIGHT[lot] + 1.2 * maturity - 0.8 * damage
    clean = germination_rule(damage, maturity, coat)
    noisy = CLASSES[int(g.integers(len(CLASSES)))] if g.uniform() < LABEL_NOISE else clean
    return SeedState(
        damage=damage, maturity=maturity, coat=coat, lot=lot,
        weight=float(mean_weight + g.normal(0, WEIGHT_NOISE)),
        germination=noisy, germination_clean=clean,
        oil_content=float(42.0 + 6.0 * maturity - 4.0 * damage + LOT_OIL[lot] + g.normal(0, OIL_NOISE)),
        thousand_seed_weight=float(mean_weight + g.normal(0, TSW_NOISE)),
    )


@dataclass
class MultiModalSeed:
    """One synthetic seed in every modality.

    Attributes:
        state: The hidden state and labels.
        ct: ``(1, S, S, S)`` float32 CT-like attenuation (air ≈ 0, tissue ≈ 0.7, coat ≈ 1).
        ct_spacing: Voxel size in mm ``(D, H, W)``.
        ct_affine: 4×4 voxel-to-world matrix for ``(w, h, d, 1)``, centred on the volume.
        void_fraction: Fraction of the seed's voxels the voids cover.
        hsi: ``(bands, H, W)`` float32 reflectance in [0, 1].
        wavelengths: ``(bands,)`` band centres in nm (400–1000).
        rgb: ``(3, H, W)`` float32 in [0, 1].
        mould_fraction: Fraction of the seed area covered by patches in the RGB photo.
    """

    state: SeedState
    ct: np.ndarray
    ct_spacing: tuple[float, float, float]
    ct_affine: np.ndarray
    void_fraction: float
    hsi: np.ndarray
    wavelengths: np.ndarray
    rgb: np.ndarray
    mould_fraction: float


def _ct(state: SeedState, size: int, rng: np.random.Generator) -> tuple[np.ndarray, float]:
    anatomy_rng, void_rng, noise_rng = child_generators(rng, 3)
    anat = make_anatomy(size, anatomy_rng)
    values = anat.values.copy()
    seed_voxels = int(anat.seed.sum())
    region = np.zeros(values.shape, dtype=bool)
    if state.damage > 0:
        target = VOID_FRACTION[0] + VOID_FRACTION[1] * state.damage
        count = 1 + int(void_rng.integers(3))
        volume_ratio = target * 1.35 / count  # the seed is a unit ball; voids are clipped to its interior
        for _ in range(count):
            aniso = np.exp(void_rng.uniform(-0.25, 0.25, size=3))
            axes = volume_ratio ** (1 / 3) * aniso / np.prod(aniso) ** (1 / 3)
            limit = max(0.0, 1.0 - anat.coat_thickness - 0.6 * axes.max())
            centre = random_unit_vector(void_rng) * void_rng.uniform(0.0, limit)
            rot = random_rotation(void_rng).astype(np.float32)
            d = anat.u - centre.astype(np.float32)[:, None, None, None]
            q = np.tensordot(rot.T, d, axes=1) / axes.astype(np.float32)[:, None, None, None]
            region |= anat.interior & (np.einsum("i...,i...->...", q, q) <= 1.0)
        values[region] = void_rng.uniform(0.0, 0.05)
    blurred = ndimage.gaussian_filter(values, sigma=BLUR_SIGMA, mode="constant")
    std = np.sqrt(NOISE_STD_AIR**2 + NOISE_GAIN * np.maximum(blurred, 0.0))
    noisy = blurred + std * noise_rng.standard_normal(blurred.shape, dtype=np.float32)
    return noisy.astype(np.float32)[None], float(region.sum() / seed_voxels)


def _hsi(state: SeedState, size: int, bands: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    scene_rng, noise_rng = child_generators(rng, 2)
    wl = np.linspace(*WAVELENGTH_RANGE_NM, bands)
    scene = _scene(size, scene_rng)
    immaturity = 1.0 - state.maturity
    coat = _spectra.coat(wl, scene_rng)
    coat = coat * (1.0 - CHLOROPHYLL_DEPTH * immaturity * np.exp(-0.5 * ((wl - 672.0) / 16.0) ** 2))
    coat = coat + GREEN_BUMP * immaturity * np.exp(-0.5 * ((wl - 550.0) / 30.0) ** 2)
    tray = _spectra.tray(wl, scene_rng)
    gradient = 1.0 + 0.05 * (scene.u[0] / 2.0)
    seed_signal = coat[:, None, None] * scene.shading[None] + scene.specular[None]
    clean = scene.alpha[None] * seed_signal + (1.0 - scene.alpha[None]) * tray[:, None, None] * gradient[None]
    std = np.sqrt(_band_noise_std(wl)[:, None, None] ** 2 + (0.01 * clean) ** 2)
    noisy = clean + std * noise_rng.standard_normal(clean.shape)
    return np.clip(noisy, 0.0, 1.0).astype(np.float32), wl.astype(np.float32)


def _rgb(state: SeedState, size: int, rng: np.random.Generator) -> tuple[np.ndarray, float]:
    scene_rng, patch_rng, noise_rng = child_generators(rng, 3)
    scene = _scene(size, scene_rng)
    seed = scene.rho <= 1.0
    brown = np.array([0.20, 0.11, 0.07]) * scene_rng.uniform(0.85, 1.15)
    mould = np.array([0.72, 0.76, 0.66]) * scene_rng.uniform(0.9, 1.05)
    tray = np.array([0.74, 0.74, 0.72]) * scene_rng.uniform(0.9, 1.05)
    area = MOULD_AREA * (1.0 - state.coat) ** 1.5
    patches = np.zeros((size, size), dtype=bool)
    if area > 0:
        field = ndimage.gaussian_filter(patch_rng.standard_normal((size, size)), sigma=max(1.0, size / 12))
        level = np.quantile(field[seed], 1.0 - area)
        patches = seed & (field > level)
    colour = np.where(patches[None], mould[:, None, None], brown[:, None, None])
    seed_signal = colour * scene.shading[None] + scene.specular[None]
    gradient = 1.0 + 0.04 * (scene.u[0] / 2.0)
    clean = scene.alpha[None] * seed_signal + (1.0 - scene.alpha[None]) * tray[:, None, None] * gradient[None]
    noisy = clean + 0.015 * noise_rng.standard_normal(clean.shape)
    return np.clip(noisy, 0.0, 1.0).astype(np.float32), float(patches.sum() / max(1, seed.sum()))


def make_multimodal_seed(rng: RNGLike = None, *, state: SeedState | None = None, ct_size: int = 32,
                         hsi_size: int = 24, bands: int = 32, rgb_size: int = 32) -> MultiModalSeed:
    """Generate one seed in every modality.

    Args:
        rng: A numpy Generator, an int seed, or None for fresh entropy.
        state: The hidden state; drawn from ``rng`` when None.
        ct_size: Edge of the CT volume (>= 16).
        hsi_size: Edge of the hyperspectral image (>= 16).
        bands: Spectral bands (>= 8), 400–1000 nm.
        rgb_size: Edge of the RGB photo (>= 16).

    Raises:
        ConfigError: a size is too small or not an integer.
    """
    for name, value, minimum in (("ct_size", ct_size, 16), ("hsi_size", hsi_size, 16), ("rgb_size", rgb_size, 16),
                                 ("bands", bands, 8)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
            raise ConfigError(f"{name} must be an integer >= {minimum}; got {value!r}")
    check_size(ct_size, 16)
    state_rng, ct_rng, hsi_rng, rgb_rng = child_generators(rng, 4)
    state = state if state is not None else draw_seed_state(state_rng)
    ct, void_fraction = _ct(state, int(ct_size), ct_rng)
    hsi, wavelengths = _hsi(state, int(hsi_size), int(bands), hsi_rng)
    rgb, mould_fraction = _rgb(state, int(rgb_size), rgb_rng)
    spacing = FIELD_OF_VIEW_MM / ct_size
    affine = np.diag([spacing, spacing, spacing, 1.0])
    affine[:3, 3] = -spacing * (ct_size - 1) / 2.0
    return MultiModalSeed(state, ct, (spacing, spacing, spacing), affine, void_fraction, hsi, wavelengths, rgb,
                          mould_fraction)


def _count(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ConfigError(f"{name} must be a non-negative integer; got {value!r}")
    return int(value)


def write_multimodal_dataset(root: str | Path, *, n_train: int = 300, n_val: int = 100, n_test: int = 200,
                             seed: int = 0, ct_size: int = 32, hsi_size: int = 24, bands: int = 32,
                             rgb_size: int = 32, missing_fraction: float = 0.0) -> Path:
    """Write a multi-modal seed set and return its ``manifest.csv``.

    Layout under ``root``: ``ct/<id>.nii.gz`` (float32 NIfTI with the volume's affine), ``hsi/<id>.hdr`` + ``.img``
    (ENVI BSQ float32 with wavelengths), ``rgb/<id>.png`` (8-bit RGB), ``manifest.csv`` with the columns
    :data:`MANIFEST_COLUMNS` (paths relative to it; splits train, then val, then test) and
    ``hidden_state.csv`` with each seed's hidden state and noise-free class — for analysis only, a model must
    not read it.

    Args:
        root: Output folder (created).
        n_train: Training seeds.
        n_val: Validation seeds.
        n_test: Test seeds.
        seed: Seed of everything; each sample draws from its own child of ``SeedSequence(seed)``, so another
            ``seed`` gives a different, held-out set.
        ct_size: CT edge length.
        hsi_size: Hyperspectral image edge length.
        bands: Spectral bands.
        rgb_size: RGB photo edge length.
        missing_fraction: Probability that each of a sample's CT, cube and photo is missing (its cell left empty
            and no file written); a sample never misses all three.

    Raises:
        ConfigError: a count, size or ``missing_fraction`` is invalid, or there is no sample at all.
    """
    counts = {"train": _count("n_train", n_train), "val": _count("n_val", n_val), "test": _count("n_test", n_test)}
    total = sum(counts.values())
    if total == 0:
        raise ConfigError("write_multimodal_dataset needs at least one sample (n_train + n_val + n_test > 0)")
    if not isinstance(missing_fraction, (int, float)) or not 0.0 <= missing_fraction < 1.0:
        raise ConfigError(f"missing_fraction must be in [0, 1); got {missing_fraction!r}")
    out = Path(root)
    for folder in ("ct", "hsi", "rgb"):
        (out / folder).mkdir(parents=True, exist_ok=True)
    splits = [name for name, n in counts.items() for _ in range(n)]
    children = np.random.SeedSequence(seed).spawn(total)
    rows, hidden = [], []
    for index, (split, child) in enumerate(zip(splits, children, strict=True)):
        rng = np.random.default_rng(child)
        sample = make_multimodal_seed(rng, ct_size=ct_size, hsi_size=hsi_size, bands=bands, rgb_size=rgb_size)
        missing = rng.uniform(size=3) < missing_fraction
        if missing.all():
            missing[int(rng.integers(3))] = False
        sid = f"S{index:05d}"
        cells = {"ct": "", "hsi": "", "rgb": ""}
        if not missing[0]:
            write_nifti(out / "ct" / f"{sid}.nii.gz", sample.ct[0], sample.ct_affine)
            cells["ct"] = f"ct/{sid}.nii.gz"
        if not missing[1]:
            write_envi(out / "hsi" / f"{sid}.hdr", sample.hsi, sample.wavelengths.tolist())
            cells["hsi"] = f"hsi/{sid}.hdr"
        if not missing[2]:
            write_rgb_png(out / "rgb" / f"{sid}.png", sample.rgb)
            cells["rgb"] = f"rgb/{sid}.png"
        s = sample.state
        rows.append({"sample_id": sid, "split": split, **cells, "weight": f"{s.weight:.4f}", "lot": s.lot,
                     "germination": s.germination, "oil_content": f"{s.oil_content:.3f}",
                     "thousand_seed_weight": f"{s.thousand_seed_weight:.4f}"})
        state = {k: v for k, v in asdict(s).items() if k in ("damage", "maturity", "coat", "germination_clean")}
        hidden.append({"sample_id": sid, **state, "void_fraction": f"{sample.void_fraction:.4f}",
                       "mould_fraction": f"{sample.mould_fraction:.4f}"})
    manifest = out / "manifest.csv"
    tables = ((manifest, rows, list(MANIFEST_COLUMNS)), (out / HIDDEN_FILE, hidden, list(hidden[0])))
    for path, table, columns in tables:
        with path.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=columns)
            writer.writeheader()
            writer.writerows(table)
    return manifest


def oracle_macro_f1(n: int = 100_000, seed: int = 0, bins: int = 40) -> dict[str, float]:
    """Macro-F1 of Bayes-optimal rules that see the hidden variable(s) of one modality, or the whole state.

    Single-modality rules predict the most frequent (noisy) class per bin of that modality's variable (damage for
    ``ct``, maturity for ``hsi``, coat for ``rgb``, lot × weight for ``table``), estimated on the simulated draws
    themselves; ``all`` predicts the noise-free class.
    """
    from sklearn.metrics import f1_score

    rng = np.random.default_rng(seed)
    states = [draw_seed_state(rng) for _ in range(n)]
    truth = np.array([s.germination for s in states])

    def binned(values: np.ndarray) -> np.ndarray:
        return np.clip((values * bins).astype(int), 0, bins - 1)

    keys = {
        "ct": binned(np.array([s.damage for s in states])) + bins * np.array([s.damage == 0 for s in states]),
        "hsi": binned(np.array([s.maturity for s in states])),
        "rgb": binned(np.array([s.coat for s in states])),
        "table": binned((np.array([s.weight for s in states]) - 2.0) / 5.0) * len(LOTS)
        + np.array([LOTS.index(s.lot) for s in states]),
    }
    result: dict[str, float] = {}
    for name, key in keys.items():
        predicted = np.empty(n, dtype=object)
        for value in np.unique(key):
            members = key == value
            labels, counts = np.unique(truth[members], return_counts=True)
            predicted[members] = labels[counts.argmax()]
        result[name] = float(f1_score(truth, predicted.astype(str), average="macro"))
    clean = np.array([s.germination_clean for s in states])
    result["all"] = float(f1_score(truth, clean, average="macro"))
    return result
