"""``hub import --split-seeds``: each grain of a multi-grain CT scan becomes its own sample, linked to its scan.

The scan is imported as usual (sample = its id). Each grain that :func:`seedlens.seeds.split_volume` finds
becomes a sample ``<scan id>-g01``, ``-g02``... whose volume acquisition is the grain's crop (NIfTI, written
deterministically, so a second import finds the same blob and adds nothing) with a
:class:`~seedlens.hub.provenance.ParentLink` to the scan's acquisition: the scan's sample id and blob, the
crop's bounding box in the scan's spatial voxels ``[[d0, d1], [h0, h1], [w0, w1]]`` and the grain's centroid.
The grain's morphometric traits (:mod:`seedlens.seeds.traits`) are stored as its traits.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from seedlens.errors import ReadError, SeedlensError
from seedlens.hub.discover import Candidate
from seedlens.hub.provenance import ParentLink
from seedlens.types import Modality


@dataclass
class SeedSplit:
    """The grain candidates of an import, their traits, and the problems met."""

    candidates: list[Candidate] = field(default_factory=list)
    traits: dict[str, dict[str, float]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)


def split_candidates(
    scans: list[Candidate],
    modality: Modality,
    scratch: Path,
    parent_digest: Callable[[Candidate], str],
    options: dict[str, Any] | None = None,
    progress: Callable[[str], None] | None = None,
) -> SeedSplit:
    """Segment every scan into grains written under ``scratch``; return them as import candidates.

    Args:
        scans: The scans found in the import folder.
        modality: Must be ``volume``.
        scratch: Folder for the grain files (the caller deletes it).
        parent_digest: The blob hash a scan will be stored under (de-identified DICOM and packs differ from the
            file's own hash).
        options: Passed to :func:`seedlens.seeds.split_volume` (``threshold``, ``grain_size``, ``surround``...).
        progress: Called with one line per scan.
    """
    from seedlens.hub.reading import read_array
    from seedlens.seeds import split_volume
    from seedlens.seeds.split import scan_spacing, write_grain

    result = SeedSplit()
    if modality is not Modality.VOLUME:
        result.problems.append(f"--split-seeds splits CT volumes; got modality {modality.value!r} "
                               f"(split hyperspectral trays with 'seedlens seeds split' first)")
        return result
    for scan in scans:
        try:
            volume, meta = read_array(scan.read_path, modality)
            split = split_volume(volume, scan.sample_id, spacing=scan_spacing(meta), source=scan.source_name,
                                 **(options or {}))
            digest = parent_digest(scan)
        except ReadError as err:
            result.problems.append(f"{err.path}: {err.problem}")
            continue
        except SeedlensError as err:
            result.problems.append(f"{scan.read_path}: {err}")
            continue
        folder = scratch / scan.sample_id
        array = volume[0] if volume.ndim == 4 else volume
        for grain, record in zip(split.grains, split.records, strict=True):
            path = write_grain(folder / record.file, grain, array.dtype, meta.affine, split.spacing)
            result.candidates.append(Candidate(
                sample_id=record.sample_id, source_name=f"{scan.source_name}#{grain.grain_id}", kind="file",
                read_path=path, suffix=".nii.gz",
                parent=ParentLink(scan.sample_id, digest, record.bbox, record.centroid)))
            result.traits[record.sample_id] = record.traits
        result.counts[scan.sample_id] = len(split.grains)
        if progress:
            ids = [r.sample_id for r in split.records]
            shown = f"{ids[0]} … {ids[-1]}" if len(ids) > 2 else ", ".join(ids)
            progress(f"split {scan.source_name}: {len(ids)} grains ({shown}; a labels CSV may key on these ids)")
        del volume, array, split
    return result
