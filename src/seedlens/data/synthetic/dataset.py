"""Write a synthetic seed dataset (files + ``manifest.csv``) for tests, demos and benchmarks.

Layout under ``root`` (``<ext>`` is ``.nii.gz`` for volumes, ``.png`` for images, ``.hdr`` + ``.img`` for cubes)::

    manifest.csv
    train/0000_normal<ext>                       normals only
    val/0000_normal<ext>, val/0003_crack<ext>    normals then anomalies
    val/masks/0003_crack_mask<ext'>, val/masks/0003_crack_seed<ext'>
    test/...                                     as val

``manifest.csv`` has the columns ``path,label,split,mask,object_mask,defect`` with paths relative to the CSV;
``label`` is ``normal`` or ``abnormal``, ``defect`` names the defect type (empty for normals), ``mask`` is the
defect mask (all zero for normals) and ``object_mask`` the seed mask, both given for val/test rows only.
Defect types are spread evenly (round robin) over the anomalous rows of each split.

Files:

* volumes: float32 NIfTI-1 (``.nii.gz``) of :func:`make_seed_volume` phantoms with an isotropic spacing of
  ``2.6 mm / size`` (0.081 mm at 32³) and an affine centred on the volume; masks as uint8 NIfTI.
* images: 16-bit grey PNG of :func:`make_seed_slice`, ``grey = clip((v + 0.25) / 1.75, 0, 1) · 65535``
  (:data:`IMAGE_PNG_RANGE`), so air ≈ 9400, tissue ≈ 35000, coat ≈ 46800; masks as 8-bit PNG (0 / 255).
* cubes: ENVI ``.hdr`` (samples, lines, bands, interleave = bsq, data type = 4, byte order = 0, wavelength)
  with a float32 ``.img`` beside it, from :func:`make_seed_cube`; masks as 8-bit PNG.

Every sample draws from its own child of ``numpy.random.SeedSequence(seed)``, so a dataset is reproducible.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from seedlens.data.synthetic._files import write_envi, write_nifti, write_png
from seedlens.data.synthetic.cube import CUBE_DEFECT_TYPES, make_seed_cube
from seedlens.data.synthetic.phantom import DEFECT_TYPES, make_seed_volume
from seedlens.data.synthetic.slices import make_seed_slice
from seedlens.errors import ConfigError
from seedlens.types import Modality

MANIFEST_COLUMNS: tuple[str, ...] = ("path", "label", "split", "mask", "object_mask", "defect")
IMAGE_PNG_RANGE: tuple[float, float] = (-0.25, 1.5)
DEFAULT_SIZES = {Modality.VOLUME: 32, Modality.IMAGE: 64, Modality.CUBE: 32}


@dataclass
class _Row:
    split: str
    index: int
    defect: str | None


def _plan(counts: dict[str, int], defect_types: tuple[str, ...]) -> list[_Row]:
    rows: list[_Row] = [_Row("train", i, None) for i in range(counts["n_train"])]
    for split in ("val", "test"):
        normal, anomalous = counts[f"n_{split}_normal"], counts[f"n_{split}_anomalous"]
        rows += [_Row(split, i, None) for i in range(normal)]
        rows += [_Row(split, normal + i, defect_types[i % len(defect_types)]) for i in range(anomalous)]
    return rows


def _to_png16(image: np.ndarray) -> np.ndarray:
    lo, hi = IMAGE_PNG_RANGE
    return np.round(np.clip((image - lo) / (hi - lo), 0.0, 1.0) * 65535).astype(np.uint16)


def _write_sample(
    modality: Modality, folder: Path, stem: str, size: int, bands: int, row: _Row, rng: np.random.Generator, masks: bool
) -> tuple[Path, Path | None, Path | None]:
    mask_dir = folder / "masks"
    if modality is Modality.VOLUME:
        ph = make_seed_volume(size, row.defect, rng)
        path = folder / f"{stem}.nii.gz"
        write_nifti(path, ph.volume[0], ph.affine)
        if not masks:
            return path, None, None
        mask, seed = mask_dir / f"{stem}_mask.nii.gz", mask_dir / f"{stem}_seed.nii.gz"
        write_nifti(mask, ph.defect_mask[0].astype(np.uint8), ph.affine)
        write_nifti(seed, ph.seed_mask[0].astype(np.uint8), ph.affine)
        return path, mask, seed
    if modality is Modality.IMAGE:
        sl = make_seed_slice(size, row.defect, rng)
        path = folder / f"{stem}.png"
        write_png(path, _to_png16(sl.image[0]))
        defect_mask, seed_mask = sl.defect_mask[0], sl.seed_mask[0]
    else:
        cube = make_seed_cube(size, bands, row.defect, rng)
        path = folder / f"{stem}.hdr"
        write_envi(path, cube.cube, cube.wavelengths.tolist())
        defect_mask, seed_mask = cube.defect_mask[0], cube.seed_mask[0]
    if not masks:
        return path, None, None
    mask, seed = mask_dir / f"{stem}_mask.png", mask_dir / f"{stem}_seed.png"
    write_png(mask, defect_mask.astype(np.uint8) * 255)
    write_png(seed, seed_mask.astype(np.uint8) * 255)
    return path, mask, seed


def write_seed_dataset(
    root: str | Path,
    modality: str | Modality = "volume",
    n_train: int = 20,
    n_val_normal: int = 5,
    n_val_anomalous: int = 5,
    n_test_normal: int = 10,
    n_test_anomalous: int = 10,
    size: int | None = None,
    seed: int = 0,
    bands: int = 64,
    overwrite: bool = False,
) -> Path:
    """Write a synthetic seed dataset of one modality and its ``manifest.csv``.

    Args:
        root: Folder to write into (created if missing).
        modality: ``"volume"`` (CT phantoms), ``"image"`` (CT slices) or ``"cube"`` (hyperspectral).
        n_train: Normal training samples (the train split has normals only).
        n_val_normal: Normal validation samples.
        n_val_anomalous: Defective validation samples, defect types spread evenly.
        n_test_normal: Normal test samples.
        n_test_anomalous: Defective test samples, defect types spread evenly.
        size: Edge length in pixels/voxels; default 32 for volumes and cubes, 64 for images.
        seed: Seed of the whole dataset.
        bands: Spectral bands of cubes (ignored otherwise).
        overwrite: Replace an existing ``manifest.csv`` (and files of the same names) in ``root``.

    Returns:
        Path of the written ``manifest.csv``.

    Raises:
        ConfigError: If a count is negative, ``modality`` is ``table`` or ``root`` already holds a manifest and
            ``overwrite`` is False.
        UnknownNameError: If ``modality`` is not a known modality.
    """
    kind = Modality.parse(modality)
    if kind not in DEFAULT_SIZES:
        raise ConfigError(f"modality must be one of volume, image, cube; got {kind.value!r}")
    counts = {
        "n_train": n_train,
        "n_val_normal": n_val_normal,
        "n_val_anomalous": n_val_anomalous,
        "n_test_normal": n_test_normal,
        "n_test_anomalous": n_test_anomalous,
    }
    for name, value in counts.items():
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise ConfigError(f"{name} must be an int >= 0; got {value!r}")
    root = Path(root)
    manifest = root / "manifest.csv"
    if manifest.exists() and not overwrite:
        raise ConfigError(f"{manifest} already exists; pass overwrite=True to replace it")
    size = DEFAULT_SIZES[kind] if size is None else size
    defect_types = CUBE_DEFECT_TYPES if kind is Modality.CUBE else DEFECT_TYPES
    rows = _plan(counts, defect_types)
    seeds = np.random.SeedSequence(seed).spawn(len(rows))

    records = []
    for row, child in zip(rows, seeds, strict=True):
        folder = root / row.split
        masks = row.split != "train"
        (folder / "masks" if masks else folder).mkdir(parents=True, exist_ok=True)
        stem = f"{row.index:04d}_{row.defect or 'normal'}"
        path, mask, seed_mask = _write_sample(kind, folder, stem, size, bands, row, np.random.default_rng(child), masks)
        records.append(
            {
                "path": path.relative_to(root).as_posix(),
                "label": "normal" if row.defect is None else "abnormal",
                "split": row.split,
                "mask": mask.relative_to(root).as_posix() if mask else "",
                "object_mask": seed_mask.relative_to(root).as_posix() if seed_mask else "",
                "defect": row.defect or "",
            }
        )
    with manifest.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(MANIFEST_COLUMNS))
        writer.writeheader()
        writer.writerows(records)
    return manifest
