"""One labelled sample as a data source lists it: file paths and labels, nothing loaded."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["SPLITS", "Record"]

#: The split names every data source uses.
SPLITS: tuple[str, ...] = ("train", "val", "test")


@dataclass(frozen=True)
class Record:
    """A sample listed by a data source (a manifest row or a file in a dataset folder).

    Attributes:
        path: The sample's file (or DICOM series folder), absolute or relative to the working directory.
        label: Class name as written in the source (e.g. ``"noncovid"``).
        split: ``"train"``, ``"val"`` or ``"test"``.
        is_anomalous: Whether ``label`` is anything but the source's normal class.
        mask: Ground-truth anomaly mask file (same spatial shape as the sample), or None.
        object_mask: Object mask file (e.g. the seed or the lung), or None.
        meta: Any other columns of the source, as strings (e.g. ``{"patient": "p17", "subset": "ucsd"}``).
    """

    path: Path
    label: str
    split: str
    is_anomalous: bool
    mask: Path | None = None
    object_mask: Path | None = None
    meta: dict[str, str] = field(default_factory=dict, hash=False)
