"""Multi-modal synthetic seeds for fusion: CT volume, hyperspectral cube, RGB photo and table, from a hidden state.

The generative story (fixed here, not tuned to any model). Each seed has a hidden state drawn independently:

* ``damage`` d — 0 with probability 0.5, else Uniform(0, 1). Visible **only in the CT**: internal air voids, and
  for half of the seeds a crack from the surface, changing ``0.01 + 0.12 d`` (± 8 %) of the seed's voxels (none
  when d = 0), drawn with the void and crack generators of :mod:`~seedlens.data.synthetic.phantom` (see
  :mod:`~seedlens.data.synthetic._ct`) on its anatomy, blur (σ = 0.6 voxel) and noise.
* ``maturity`` m ~ Uniform(0, 1). Visible **only in the hyperspectral cube**
  (:mod:`~seedlens.data.synthetic._hsi`): the coat spectrum of :mod:`~seedlens.data.synthetic.cube` gets a
  chlorophyll absorption at 672 nm (σ = 16 nm) of relative depth ``0.6 (1 - m)`` and a green bump at 550 nm
  (σ = 30 nm) of ``0.02 (1 - m)`` reflectance on the whole coat (immature seeds are greener); tray, scene,
  shading and noise as in that module, no spatial defect.
* ``coat`` condition c ~ Uniform(0, 1), 1 = perfect. Visible **only in the RGB photo**
  (:mod:`~seedlens.data.synthetic._rgb`): a dark brown seed on a light-grey tray whose lumpy whitish / grey-green
  mould or pale discoloured patches cover ``0.4 (1 - c)^1.5`` of the seed.
* ``lot`` — one of ``L1``–``L4`` uniformly. Visible in the **table**: the ``lot`` column, and the seed's weight
  (mg) ``4.0 + lot offset (-0.4, 0, +0.3, +0.6) + 1.2 m - 0.8 d + N(0, 0.25)``.

Germination (``normal`` / ``abnormal`` / ``dead``), then label noise (probability 0.05: a uniformly random class):

* **dead** if d > 0.65, or if m < 0.5 **and** c < 0.5 — the cross-modal interaction (cube × RGB) that only a
  model seeing both at once can learn;
* else **abnormal** if 0.35 < d ≤ 0.65, or if 0.2 < d ≤ 0.35 and m < 0.5 (CT × cube);
* else **normal**.

Traits: ``oil_content`` (%) ``= 42 + 6 m - 4 d + lot offset (-1, 0, +0.5, +1.5) + N(0, 0.7)``;
``thousand_seed_weight`` (g) = the noise-free weight above (mg per seed = g per 1000 seeds) ``+ N(0, 0.1)``.

Measured by simulation of the hidden state (:func:`oracle_macro_f1`, 100,000 seeds, seed 0): classes normal
48.2 %, dead 37.9 %, abnormal 14.0 %; macro-F1 of the Bayes-optimal rule that sees the hidden variable(s) of one
modality only: CT 0.727, cube 0.442, RGB 0.430, table 0.462; of the rule that sees the whole state 0.960 (label
noise caps it). A fused model can thus beat the best single modality by up to about 0.23 macro-F1, the late
fusion of single-modality models by less (averaging probabilities cannot express "dead only when both").

Files (:func:`write_multimodal_dataset`): ``manifest.csv`` holds what a model may use; each seed's hidden state
goes to a separate ``hidden_state.csv`` (:data:`HIDDEN_FILE`) for analysis only, so that a model reading every
manifest column cannot see it.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from seedlens.data.synthetic._ct import render_ct
from seedlens.data.synthetic._files import write_envi, write_nifti, write_rgb_png
from seedlens.data.synthetic._hsi import render_hsi
from seedlens.data.synthetic._random import RNGLike, child_generators
from seedlens.data.synthetic._rgb import render_rgb
from seedlens.data.synthetic._seedstate import (
    ABNORMAL_DAMAGE,
    CHLOROPHYLL_DEPTH,
    CLASSES,
    DEAD_DAMAGE,
    DEFECT_FRACTION,
    GREEN_BUMP,
    LABEL_NOISE,
    LOT_OIL,
    LOT_WEIGHT,
    LOTS,
    LOW_MATURITY,
    MILD_DAMAGE,
    MOULD_AREA,
    MOULD_POWER,
    OIL_NOISE,
    P_UNDAMAGED,
    POOR_COAT,
    TSW_NOISE,
    WEIGHT_NOISE,
    SeedState,
    draw_seed_state,
    germination_rule,
    oracle_macro_f1,
)
from seedlens.data.synthetic.phantom import FIELD_OF_VIEW_MM
from seedlens.errors import ConfigError

__all__ = [
    "ABNORMAL_DAMAGE",
    "CHLOROPHYLL_DEPTH",
    "CLASSES",
    "DEAD_DAMAGE",
    "DEFECT_FRACTION",
    "GREEN_BUMP",
    "HIDDEN_COLUMNS",
    "HIDDEN_FILE",
    "LABEL_NOISE",
    "LOTS",
    "LOT_OIL",
    "LOT_WEIGHT",
    "LOW_MATURITY",
    "MANIFEST_COLUMNS",
    "MILD_DAMAGE",
    "MOULD_AREA",
    "MOULD_POWER",
    "OIL_NOISE",
    "POOR_COAT",
    "P_UNDAMAGED",
    "TSW_NOISE",
    "WEIGHT_NOISE",
    "MultiModalSeed",
    "SeedState",
    "draw_seed_state",
    "germination_rule",
    "make_multimodal_seed",
    "oracle_macro_f1",
    "write_multimodal_dataset",
]

MANIFEST_COLUMNS: tuple[str, ...] = (
    "sample_id", "split", "ct", "hsi", "rgb", "weight", "lot", "germination", "oil_content", "thousand_seed_weight",
)  # fmt: skip
HIDDEN_FILE = "hidden_state.csv"
HIDDEN_COLUMNS: tuple[str, ...] = (
    "sample_id", "damage", "maturity", "coat", "germination_clean", "defect_fraction", "patch_fraction",
)  # fmt: skip


@dataclass
class MultiModalSeed:
    """One synthetic seed in every modality.

    Attributes:
        state: The hidden state and labels.
        ct: ``(1, S, S, S)`` float32 CT-like attenuation (air ≈ 0, tissue ≈ 0.7, coat ≈ 1).
        ct_spacing: Voxel size in mm ``(D, H, W)``.
        ct_affine: 4×4 voxel-to-world matrix for ``(w, h, d, 1)``, centred on the volume.
        defect_fraction: Fraction of the seed's voxels the voids and crack changed (0 for an undamaged seed).
        hsi: ``(bands, H, W)`` float32 reflectance in [0, 1].
        wavelengths: ``(bands,)`` float32 band centres in nm (400–1000).
        rgb: ``(3, H, W)`` float32 in [0, 1].
        patch_fraction: Fraction of the seed area covered by pale patches in the RGB photo.
    """

    state: SeedState
    ct: np.ndarray
    ct_spacing: tuple[float, float, float]
    ct_affine: np.ndarray
    defect_fraction: float
    hsi: np.ndarray
    wavelengths: np.ndarray
    rgb: np.ndarray
    patch_fraction: float


def _check_int(name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ConfigError(f"{name} must be an integer >= {minimum}; got {value!r}")
    return int(value)


def _check_sizes(ct_size: object, hsi_size: object, bands: object, rgb_size: object) -> tuple[int, int, int, int]:
    return (
        _check_int("ct_size", ct_size, 16),
        _check_int("hsi_size", hsi_size, 16),
        _check_int("bands", bands, 8),
        _check_int("rgb_size", rgb_size, 16),
    )


def make_multimodal_seed(
    rng: RNGLike = None,
    *,
    state: SeedState | None = None,
    ct_size: int = 32,
    hsi_size: int = 24,
    bands: int = 32,
    rgb_size: int = 32,
) -> MultiModalSeed:
    """Generate one seed in every modality.

    The state and each modality draw from separate streams of ``rng``, so the same ``rng`` with states that
    differ in one hidden variable gives seeds that differ in that variable's modality only.

    Args:
        rng: A numpy Generator (advanced by the call), an int seed, or None for fresh entropy.
        state: The hidden state; drawn from ``rng`` when None (e.g. ``SeedState(0.3, 0.2, 0.9, "L1")``).
        ct_size: Edge of the CT volume (>= 16).
        hsi_size: Edge of the hyperspectral image (>= 16).
        bands: Spectral bands (>= 8), evenly spaced over 400–1000 nm.
        rgb_size: Edge of the RGB photo (>= 16).

    Raises:
        ConfigError: a size is too small or not an integer.
    """
    ct_size, hsi_size, bands, rgb_size = _check_sizes(ct_size, hsi_size, bands, rgb_size)
    state_rng, ct_rng, hsi_rng, rgb_rng = child_generators(rng, 4)
    state = state if state is not None else draw_seed_state(state_rng)
    target = DEFECT_FRACTION[0] + DEFECT_FRACTION[1] * state.damage if state.damage > 0 else 0.0
    ct, defect_fraction = render_ct(target, ct_size, ct_rng)
    hsi, wavelengths = render_hsi(state.maturity, hsi_size, bands, hsi_rng)
    rgb, patch_fraction = render_rgb(rgb_size, MOULD_AREA * (1.0 - state.coat) ** MOULD_POWER, rgb_rng)
    spacing = FIELD_OF_VIEW_MM / ct_size
    affine = np.diag([spacing, spacing, spacing, 1.0])
    affine[:3, 3] = -spacing * (ct_size - 1) / 2.0
    return MultiModalSeed(
        state, ct, (spacing, spacing, spacing), affine, defect_fraction, hsi, wavelengths, rgb, patch_fraction
    )


def write_multimodal_dataset(
    root: str | Path,
    *,
    n_train: int = 300,
    n_val: int = 100,
    n_test: int = 200,
    seed: int = 0,
    ct_size: int = 32,
    hsi_size: int = 24,
    bands: int = 32,
    rgb_size: int = 32,
    missing_fraction: float = 0.0,
) -> Path:
    """Write a multi-modal seed set and return its ``manifest.csv``.

    Layout under ``root``: ``ct/<id>.nii.gz`` (float32 NIfTI with the volume's affine), ``hsi/<id>.hdr`` + ``.img``
    (ENVI BSQ float32 with wavelengths), ``rgb/<id>.png`` (8-bit RGB), ``manifest.csv`` with the columns
    :data:`MANIFEST_COLUMNS` (ids ``S00000``…, paths relative to it, empty cells for missing files; splits train,
    then val, then test) and ``hidden_state.csv`` with the columns :data:`HIDDEN_COLUMNS` — each seed's hidden
    state, noise-free class and measured defect / patch fractions, for analysis only: a model must not read it.

    Args:
        root: Output folder (created; files of the same names are replaced).
        n_train: Training seeds.
        n_val: Validation seeds.
        n_test: Test seeds.
        seed: Seed of everything (an int >= 0); sample ``i`` draws from the ``i``-th child of
            ``SeedSequence(seed)``, so another ``seed`` gives a different, held-out set.
        ct_size: CT edge length (>= 16).
        hsi_size: Hyperspectral image edge length (>= 16).
        bands: Spectral bands (>= 8).
        rgb_size: RGB photo edge length (>= 16).
        missing_fraction: Probability in [0, 1) that each of a sample's CT, cube and photo is missing (its cell
            left empty and no file written), independently; a sample never misses all three.

    Raises:
        ConfigError: a count, size, ``seed`` or ``missing_fraction`` is invalid, or there is no sample at all.
    """
    counts = {name: _check_int(f"n_{name}", n, 0) for name, n in (("train", n_train), ("val", n_val), ("test", n_test))}
    total = sum(counts.values())
    if total == 0:
        raise ConfigError("write_multimodal_dataset needs at least one sample (n_train + n_val + n_test > 0)")
    seed = _check_int("seed", seed, 0)
    ct_size, hsi_size, bands, rgb_size = _check_sizes(ct_size, hsi_size, bands, rgb_size)
    number = isinstance(missing_fraction, (int, float, np.integer, np.floating))
    if isinstance(missing_fraction, bool) or not number or not 0.0 <= missing_fraction < 1.0:
        raise ConfigError(f"missing_fraction must be a number in [0, 1); got {missing_fraction!r}")
    out = Path(root)
    for folder in ("ct", "hsi", "rgb"):
        (out / folder).mkdir(parents=True, exist_ok=True)
    splits = [name for name, n in counts.items() for _ in range(n)]
    rows, hidden = [], []
    for index, (split, child) in enumerate(zip(splits, np.random.SeedSequence(seed).spawn(total), strict=True)):
        rng = np.random.default_rng(child)
        sample = make_multimodal_seed(rng, ct_size=ct_size, hsi_size=hsi_size, bands=bands, rgb_size=rgb_size)
        missing = rng.uniform(size=3) < missing_fraction
        if missing.all():
            missing[int(rng.integers(3))] = False
        sid = f"S{index:05d}"
        cells = {"ct": "", "hsi": "", "rgb": ""}
        if not missing[0]:
            cells["ct"] = f"ct/{sid}.nii.gz"
            write_nifti(out / cells["ct"], sample.ct[0], sample.ct_affine)
        if not missing[1]:
            cells["hsi"] = f"hsi/{sid}.hdr"
            write_envi(out / cells["hsi"], sample.hsi, sample.wavelengths.tolist())
        if not missing[2]:
            cells["rgb"] = f"rgb/{sid}.png"
            write_rgb_png(out / cells["rgb"], sample.rgb)
        s = sample.state
        rows.append({
            "sample_id": sid, "split": split, **cells, "weight": f"{s.weight:.4f}", "lot": s.lot,
            "germination": s.germination, "oil_content": f"{s.oil_content:.3f}",
            "thousand_seed_weight": f"{s.thousand_seed_weight:.4f}",
        })  # fmt: skip
        hidden.append({
            "sample_id": sid, "damage": f"{s.damage:.6f}", "maturity": f"{s.maturity:.6f}", "coat": f"{s.coat:.6f}",
            "germination_clean": s.germination_clean, "defect_fraction": f"{sample.defect_fraction:.5f}",
            "patch_fraction": f"{sample.patch_fraction:.5f}",
        })  # fmt: skip
    manifest = out / "manifest.csv"
    for path, table, columns in ((manifest, rows, MANIFEST_COLUMNS), (out / HIDDEN_FILE, hidden, HIDDEN_COLUMNS)):
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(columns))
            writer.writeheader()
            writer.writerows(table)
    return manifest
