"""``seedlens seeds split`` for CT: one NIfTI (and mask) per grain of a scan, a traits table and a picture.

Layout of the output folder (written atomically file by file; rerunning replaces it consistently)::

    DIR/<scan>-g01.nii.gz          the grain's crop (an integer scan's dtype, float32 for float scans; other
                                   grains replaced by air)
    DIR/masks/<scan>-g01_mask.nii.gz
    DIR/grains.csv                 sample_id + traits: a labels CSV that ``seedlens hub import --labels`` reads
    DIR/split.json                 the settings used, and per grain its file, mask, bounding box and centroid
    DIR/<scan>-split.png           every grain coloured and numbered

Each crop keeps its place in the world: its affine is the scan's, shifted to the crop's first voxel (with an
explicit ``spacing`` the scan's affine is replaced by that diagonal one).
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from seedlens.errors import ConfigError, ShapeError
from seedlens.seeds.ct import GrainSegmentation, NoGrainError, segment_grains
from seedlens.seeds.grains import Grain, crop_grains
from seedlens.seeds.traits import grain_traits

MANIFEST = "split.json"
TABLE = "grains.csv"


@dataclass
class GrainRecord:
    """What a split wrote for one grain."""

    sample_id: str
    file: str
    mask: str
    bbox: list[list[int]]
    centroid: list[float]
    traits: dict[str, float] = field(default_factory=dict)


@dataclass
class SplitResult:
    """A split scan: its segmentation, the grains and what was written."""

    scan_id: str
    source: str
    segmentation: GrainSegmentation
    grains: list[Grain]
    records: list[GrainRecord]
    spacing: tuple[float, ...] | None
    out: Path | None = None

    def manifest(self) -> dict[str, Any]:
        """The content of ``split.json``."""
        return {
            "scan": self.scan_id, "source": self.source, "modality": "volume",
            "spacing": list(self.spacing) if self.spacing else None,
            "spacing_known": self.spacing is not None,
            "segmentation": self.segmentation.describe(),
            "grains": [vars(r) for r in self.records],
        }


def crop_affine(
    affine: np.ndarray | None, spacing: Sequence[float] | None, bbox: Sequence[Sequence[int]]
) -> np.ndarray:
    """The scan's voxel-to-world affine moved to the crop's first voxel (affines map ``(w, h, d, 1)``)."""
    if affine is None:
        steps = list(spacing)[::-1] if spacing else [1.0, 1.0, 1.0]
        affine = np.diag([*steps, 1.0])
    shift = np.eye(4)
    shift[:3, 3] = [bbox[2][0], bbox[1][0], bbox[0][0]]
    return np.asarray(affine, np.float64) @ shift


def write_grain(path: Path, grain: Grain, dtype: np.dtype, affine: np.ndarray | None,
                spacing: Sequence[float] | None) -> Path:
    """Write one grain's crop as NIfTI in the scan's dtype, placed in the world where it lies in the scan."""
    from seedlens.io import write_nifti

    return write_nifti(path, _stored_values(grain, dtype), crop_affine(affine, spacing, grain.bbox))


def _stored_values(grain: Grain, dtype: np.dtype) -> np.ndarray:
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return np.clip(np.round(grain.values), info.min, info.max).astype(dtype)
    return grain.values.astype(np.float32)


def traits_csv(records: Sequence[GrainRecord]) -> str:
    """``sample_id`` plus one column per trait, in the order of the first grain's traits."""
    buffer = io.StringIO()
    names = list(records[0].traits) if records else []
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["sample_id", *names])
    for record in records:
        writer.writerow([record.sample_id, *(f"{record.traits[n]:.6g}" for n in names)])
    return buffer.getvalue()


def split_volume(
    volume: np.ndarray,
    scan_id: str,
    *,
    spacing: Sequence[float] | None = None,
    source: str = "",
    margin: int = 3,
    isolate: bool = True,
    **options: Any,
) -> SplitResult:
    """Segment a multi-grain volume and measure every grain (nothing is written).

    Args:
        volume: ``(D, H, W)`` or ``(1, D, H, W)`` scan.
        scan_id: Name of the scan; grains are ``<scan_id>-g01``...
        spacing: ``(D, H, W)`` voxel size in mm, or None (traits in voxels).
        source: Where the scan came from, for the manifest.
        margin: Context voxels around each grain's bounding box.
        isolate: Replace what is not the grain by air in each crop.
        **options: Passed to :func:`~seedlens.seeds.ct.segment_grains` (``threshold``, ``grain_size``,
            ``min_volume``, ``max_elongation``, ``surround``, ``smooth``, ``max_memory``).

    Returns:
        The segmentation, the crops and their records.
    """
    if spacing is not None:
        spacing = tuple(float(s) for s in spacing)
        if len(spacing) != 3 or not all(math.isfinite(s) and s > 0 for s in spacing):
            raise ConfigError(f"spacing must be 3 positive numbers (D, H, W) in mm; got {spacing}")
    segmentation = segment_grains(volume, **options)
    grains = crop_grains(volume, segmentation, margin=margin, isolate=isolate)
    records = []
    for grain in grains:
        sample_id = f"{scan_id}-{grain.grain_id}"
        records.append(GrainRecord(
            sample_id=sample_id, file=f"{sample_id}.nii.gz", mask=f"masks/{sample_id}_mask.nii.gz",
            bbox=[list(pair) for pair in grain.bbox], centroid=[round(c, 3) for c in grain.centroid],
            traits=grain_traits(grain, segmentation.air_level, spacing)))
    return SplitResult(scan_id, source, segmentation, grains, records, spacing)


def write_split(result: SplitResult, volume: np.ndarray, out: str | Path, *, affine: np.ndarray | None = None,
                picture: bool = True) -> Path:
    """Write a split's crops, masks, table, manifest and picture under ``out``; return ``out``."""
    from seedlens.config import atomic_write_bytes
    from seedlens.io import write_nifti

    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    remove_stale(folder, {r.file for r in result.records} | {r.mask for r in result.records})
    array = np.asarray(volume)
    array = array[0] if array.ndim == 4 else array
    for grain, record in zip(result.grains, result.records, strict=True):
        write_grain(folder / record.file, grain, array.dtype, affine, result.spacing)
        write_nifti(folder / record.mask, grain.mask.astype(np.uint8), crop_affine(affine, result.spacing, grain.bbox))
    atomic_write_bytes(folder / TABLE, traits_csv(result.records).encode())
    atomic_write_bytes(folder / MANIFEST, (json.dumps(result.manifest(), indent=2) + "\n").encode())
    if picture:
        from seedlens.seeds.render import render_split

        render_split(array, result.segmentation.labels, folder / f"{result.scan_id}-split.png",
                     f"{result.scan_id}: {result.segmentation.count} grains")
    result.out = folder
    return folder


def remove_stale(folder: Path, keep: set[str]) -> None:
    """Delete the crops an earlier split of this folder wrote and this one does not (fewer grains this time)."""
    previous = folder / MANIFEST
    if not previous.is_file():
        return
    try:
        grains = json.loads(previous.read_text(encoding="utf-8")).get("grains", [])
    except (OSError, ValueError, AttributeError):
        return
    for entry in grains:
        for key in ("file", "mask"):
            name = entry.get(key) if isinstance(entry, dict) else None
            if isinstance(name, str) and name not in keep and "/.." not in f"/{name}" and not name.startswith("/"):
                (folder / name).unlink(missing_ok=True)
                if name.endswith(".hdr"):  # an ENVI crop's data file goes with its header
                    (folder / name).with_suffix(".img").unlink(missing_ok=True)


def split_ct_file(path: str | Path, out: str | Path, *, scan_id: str | None = None,
                  spacing: Sequence[float] | None = None, **options: Any) -> SplitResult:
    """Read a CT scan (any format :func:`seedlens.io.read` knows), split it into grains and write the result.

    The voxel size is ``spacing`` when given, else the file's when it records one; otherwise traits stay in
    voxels and ``split.json`` says ``"spacing_known": false``.
    """
    from seedlens.io import read

    source = Path(path)
    volume, meta = read(source, modality="volume")
    if volume.ndim != 4:
        raise ShapeError(f"{source}: expected a volume, read an array of shape {volume.shape}")
    known = tuple(spacing) if spacing is not None else scan_spacing(meta)
    name = scan_id or _scan_name(source)
    try:
        result = split_volume(volume, name, spacing=known, source=str(source), **options)
    except (NoGrainError, ShapeError, ConfigError) as err:
        raise type(err)(f"{source}: {err}") from err
    write_split(result, volume, out, affine=meta.affine if spacing is None else None)
    return result


def scan_spacing(meta: Any) -> tuple[float, ...] | None:
    """The voxel size a reader found, or None when the file records none worth trusting.

    Headers store float32 (0.05 comes back as 0.0500000007): seven significant digits are what the file holds.
    A stack's default 1 × 1 × 1 without an affine is not a measured spacing.
    """
    if meta.voxel_size is None:
        return None
    known = tuple(float(f"{v:.7g}") for v in meta.voxel_size)
    if all(abs(v - 1.0) < 1e-9 for v in known) and meta.affine is None:
        return None
    return known


def _scan_name(path: Path) -> str:
    name = path.name
    for suffix in (".nii.gz", ".ome.tif", ".ome.tiff"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return path.stem if path.suffix else name
