"""``seedlens seeds split TRAY.hdr --white W.hdr --dark D.hdr``: a calibrated cube, mask and spectrum per seed.

Layout of the output folder::

    DIR/<tray>-r01c01.hdr + .img        the seed's calibrated reflectance crop (ENVI, float32)
    DIR/masks/<tray>-r01c01_mask.png
    DIR/seeds.csv                       sample_id, row, column, area_px: a labels CSV the hub imports
    DIR/spectra.csv                     sample_id and the mean reflectance per band (columns: wavelengths)
    DIR/split.json                      calibration report (bad bands, clipped share) and per seed its box
    DIR/<tray>-split.png                the tray in false colour with every seed outlined and numbered

The ``(row, column)`` in each sample id is the seed's tray position, the key that matches a seed's CT and
hyperspectral samples.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from seedlens.seeds.ct import NoGrainError
from seedlens.seeds.hsi import (
    Calibration,
    CalibrationError,
    Region,
    TraySeed,
    calibrate,
    index_image,
    read_frame,
    reference_from_region,
    segment_seeds,
    tray_seeds,
)

MANIFEST = "split.json"


@dataclass
class TraySplit:
    """A split tray."""

    tray_id: str
    calibration: Calibration
    labels: np.ndarray
    seeds: list[TraySeed]
    wavelengths: list[float] | None


def split_tray(raw: np.ndarray, white: np.ndarray | None, dark: np.ndarray | None, tray_id: str, *,
               wavelengths: list[float] | None = None, index: object = "brightness", dark_seeds: bool = False,
               min_area: float | None = None, names: tuple[str, str, str] = ("raw", "white", "dark"),
               white_region: Region | None = None, dark_region: Region | None = None) -> TraySplit:
    """Calibrate a tray frame and cut out every seed (nothing is written).

    A reference may be a frame (``white`` / ``dark``) or a tile imaged beside the seeds (``white_region`` /
    ``dark_region``, ``((y0, y1), (x0, x1))`` pixel ranges of ``raw``); tiles are never taken for seeds.
    """
    regions = [r for r in (white_region, dark_region) if r is not None]
    if white is None:
        if white_region is None:
            raise CalibrationError(f"{names[0]}: give a white reference frame or a white reference region")
        white = reference_from_region(raw, white_region, "white", names[0])
    if dark is None:
        if dark_region is None:
            raise CalibrationError(f"{names[0]}: give a dark reference frame or a dark reference region")
        dark = reference_from_region(raw, dark_region, "dark", names[0])
    calibration = calibrate(raw, white, dark, names=names)
    image = index_image(calibration.reflectance, wavelengths, index, list(calibration.bad_bands))
    if regions:
        tray_level = float(np.median(image))
        image = image.copy()
        for (y0, y1), (x0, x1) in regions:
            image[y0:y1, x0:x1] = tray_level
    labels = segment_seeds(image, dark_seeds=dark_seeds, min_area=min_area)
    seeds = tray_seeds(calibration.reflectance, labels, tray_id)
    seen: dict[str, int] = {}
    for seed in seeds:  # two seeds in one grid cell (a crowded tray) keep distinct ids
        seen[seed.sample_id] = seen.get(seed.sample_id, 0) + 1
        if seen[seed.sample_id] > 1:
            seed.sample_id = f"{seed.sample_id}-{seen[seed.sample_id]}"
    return TraySplit(tray_id, calibration, labels, seeds, wavelengths)


def _csv(rows: list[list[Any]]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue().encode()


def write_tray_split(result: TraySplit, out: str | Path, picture: bool = True) -> Path:
    """Write a split tray under ``out``; return ``out``."""
    from seedlens.config import atomic_write_bytes
    from seedlens.io import write_envi, write_png
    from seedlens.seeds.split import remove_stale

    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    remove_stale(folder, {f"{s.sample_id}.hdr" for s in result.seeds}
                 | {f"masks/{s.sample_id}_mask.png" for s in result.seeds})
    for seed in result.seeds:
        write_envi(folder / f"{seed.sample_id}.hdr", seed.cube, result.wavelengths,
                   description=f"seedlens seed {seed.sample_id}, reflectance")
        write_png(folder / "masks" / f"{seed.sample_id}_mask.png", seed.mask)
    atomic_write_bytes(folder / "seeds.csv", _csv(
        [["sample_id", "tray_row", "tray_column", "area_px"]]
        + [[s.sample_id, s.row, s.column, int(s.mask.sum())] for s in result.seeds]))
    bands = result.seeds[0].mean_spectrum.shape[0] if result.seeds else 0
    header = [f"{w:g}nm" for w in result.wavelengths] if result.wavelengths else [f"band{b}" for b in range(bands)]
    atomic_write_bytes(folder / "spectra.csv", _csv(
        [["sample_id", *header]] + [[s.sample_id, *(f"{v:.5f}" for v in s.mean_spectrum)] for s in result.seeds]))
    manifest = {
        "tray": result.tray_id, "modality": "cube", "seeds": len(result.seeds),
        "bad_bands": {str(k): v for k, v in result.calibration.bad_bands.items()},
        "clipped_share": result.calibration.clipped,
        "grains": [{"sample_id": s.sample_id, "file": f"{s.sample_id}.hdr",
                    "mask": f"masks/{s.sample_id}_mask.png", "row": s.row, "column": s.column,
                    "bbox": s.bbox} for s in result.seeds],
    }
    atomic_write_bytes(folder / MANIFEST, (json.dumps(manifest, indent=2) + "\n").encode())
    if picture:
        _render(result, folder / f"{result.tray_id}-split.png")
    return folder


def _render(result: TraySplit, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from skimage.segmentation import find_boundaries

    cube = result.calibration.reflectance
    picks = np.linspace(0, cube.shape[0] - 1, 3).round().astype(int)[::-1]
    rgb = np.stack([cube[b] for b in picks], axis=-1).astype(np.float64)
    rgb = np.clip(rgb / max(float(np.percentile(rgb, 99.5)), 1e-6), 0, 1)
    rgb[find_boundaries(result.labels)] = (1.0, 1.0, 0.0)
    height, width = result.labels.shape
    fig, ax = plt.subplots(figsize=(2 + width / 30, 1 + height / 30))
    ax.imshow(rgb, interpolation="nearest")
    for seed in result.seeds:
        (y0, y1), (x0, x1) = seed.bbox
        ax.text((x0 + x1) / 2, (y0 + y1) / 2, f"{seed.row},{seed.column}", color="white", fontsize=6,
                ha="center", va="center")
    ax.set_title(f"{result.tray_id}: {len(result.seeds)} seeds", fontsize=8)
    ax.set_xticks([])
    ax.set_yticks([])
    from seedlens.atomic import atomic_path

    try:
        with atomic_path(path) as temporary:
            fig.savefig(temporary, format="png", dpi=100, bbox_inches="tight")
    finally:
        plt.close(fig)


def split_tray_files(raw: str | Path, white: str | Path | None, dark: str | Path | None, out: str | Path, *,
                     tray_id: str | None = None, **options: Any) -> TraySplit:
    """Read a raw ENVI frame and its references (files, or regions in ``options``), split the tray, write it."""
    paths = [Path(raw), Path(white) if white else Path("white region"), Path(dark) if dark else Path("dark region")]
    frame, wavelengths = read_frame(paths[0])
    white_cube = read_frame(paths[1])[0] if white else None
    dark_cube = read_frame(paths[2])[0] if dark else None
    name = tray_id or paths[0].stem
    try:
        result = split_tray(frame, white_cube, dark_cube, name, wavelengths=wavelengths,
                            names=(str(paths[0]), str(paths[1]), str(paths[2])), **options)
    except NoGrainError as err:
        raise NoGrainError(f"{paths[0]}: {err}") from err
    write_tray_split(result, out)
    return result
