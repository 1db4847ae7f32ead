"""A data source laid out as folders: ``<split>/<label>/<file>``, with optional mask folders."""

from __future__ import annotations

import os
from pathlib import Path

from seedlens.data._select import RecordList
from seedlens.data.records import SPLITS, Record
from seedlens.errors import DataSourceError

__all__ = ["SAMPLE_SUFFIXES", "FolderSource", "sample_stem"]

#: File endings taken as samples (and masks) in a dataset folder. ENVI cubes are listed by their
#: ``.hdr``; their binary data file is skipped. A sub-folder of a label folder is one DICOM series.
SAMPLE_SUFFIXES: tuple[str, ...] = (
    ".png",
    ".jpg",
    ".jpeg",
    ".bmp",
    ".tif",
    ".tiff",
    ".nii",
    ".nii.gz",
    ".dcm",
    ".nrrd",
    ".nhdr",
    ".hdr",
    ".mat",
    ".h5",
    ".hdf5",
    ".npy",
    ".npz",
    ".dicom",
    ".ima",
)


def _suffix(path: Path) -> str | None:
    """The known sample ending of ``path`` (longest match, case-insensitive), or None."""
    name = path.name.lower()
    matches = [s for s in SAMPLE_SUFFIXES if name.endswith(s) and len(name) > len(s)]
    return max(matches, key=len) if matches else None


def sample_stem(path: Path) -> str:
    """The file name without its sample ending: ``ct_01.nii.gz`` -> ``ct_01``, ``a.b.png`` -> ``a.b``."""
    suffix = _suffix(path)
    return path.name[: -len(suffix)] if suffix else path.name


def _samples_in(folder: Path) -> list[Path]:
    """Sample files (known endings) and DICOM series folders directly in ``folder``, sorted by name."""
    found = []
    for entry in folder.iterdir():
        if entry.name.startswith("."):
            continue
        if entry.is_dir() or (entry.is_file() and _suffix(entry) is not None):
            found.append(entry)
    return sorted(found, key=lambda p: p.name)


#: Endings of single DICOM slices: a folder holding only such files (at least two) is one series, one sample.
DICOM_SLICE_SUFFIXES = (".dcm", ".dicom", ".ima")


def find_samples(root: Path) -> list[Path]:
    """Every sample under ``root``, recursively, sorted.

    Files with a sample ending, and each folder of DICOM slices (at least two, nothing else) as one series; hidden
    files and folders are skipped.
    """
    found: list[Path] = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        here = Path(folder)
        samples = [here / f for f in files if not f.startswith(".") and _suffix(here / f) is not None]
        slices = [f for f in samples if _suffix(f) in DICOM_SLICE_SUFFIXES]
        if here != root and len(slices) >= 2 and len(slices) == len(samples) and not dirs:
            found.append(here)
            continue
        found.extend(samples)
    return sorted(found)


def _label_folders(split_dir: Path) -> list[Path]:
    return sorted((p for p in split_dir.iterdir() if p.is_dir() and not p.name.startswith(".")), key=lambda p: p.name)


class FolderSource(RecordList):
    """Samples laid out in folders, one folder per split and label.

    Layout::

        root/
          train/<normal_class>/...     required: the normal training samples
          train/<label>/...            optional: labelled anomalies for semi-supervised training
          val/<label>/...              optional
          test/<label>/...             optional
          masks/<label>/<stem>.<ext>   optional: ground-truth masks of test samples (same stem, any
                                       supported ending, e.g. test/crack/007.png -> masks/crack/007.png)
          object_masks/<label>/<stem>.<ext>   optional: object masks of test samples, the same way

    Samples are the files with a supported ending (:data:`SAMPLE_SUFFIXES`) and sub-folders (a DICOM
    series each); hidden entries and other files are skipped. Labels other than ``normal_class`` are
    anomalous. Records come sorted by split, label and file name.

    Args:
        root: The dataset folder.
        normal_class: The label that is normal.

    Raises:
        DataSourceError: when ``root`` or ``root/train`` is missing, ``train/<normal_class>/`` is missing
            or empty (the error lists the folders found), or two masks of one label share a stem.
    """

    def __init__(self, root: str | Path, normal_class: str = "normal") -> None:
        self._root = Path(root)
        if not self._root.is_dir():
            raise DataSourceError(f"{self._root}: dataset folder not found")
        train = self._root / "train"
        if not train.is_dir():
            found = ", ".join(sorted(p.name + "/" for p in self._root.iterdir() if p.is_dir())) or "none"
            raise DataSourceError(
                f"{self._root}: no train/ folder; expected train/{normal_class}/ (and optionally val/, test/, "
                f"masks/); folders found: {found}"
            )
        train_labels = [p.name for p in _label_folders(train)]
        if normal_class not in train_labels:
            found = ", ".join(f"{name}/" for name in train_labels) or "none"
            raise DataSourceError(
                f"{train}: no {normal_class}/ folder for the normal class {normal_class!r}; label folders found: "
                f"{found}. Name the normal class with normal_class=... (CLI: --normal-class)"
            )
        if not _samples_in(train / normal_class):
            raise DataSourceError(f"{train / normal_class}: no sample files (endings: {' '.join(SAMPLE_SUFFIXES)})")
        self._normal_class = normal_class
        masks = self._mask_index("masks")
        object_masks = self._mask_index("object_masks")
        self._records: list[Record] = []
        for split in SPLITS:
            split_dir = self._root / split
            if not split_dir.is_dir():
                continue
            for label_dir in _label_folders(split_dir):
                label = label_dir.name
                for path in _samples_in(label_dir):
                    key = (label, sample_stem(path))
                    self._records.append(
                        Record(
                            path=path,
                            label=label,
                            split=split,
                            is_anomalous=label != normal_class,
                            mask=masks.get(key) if split == "test" else None,
                            object_mask=object_masks.get(key) if split == "test" else None,
                        )
                    )

    def _mask_index(self, name: str) -> dict[tuple[str, str], Path]:
        """Map ``(label, stem)`` to the mask file under ``root/<name>/<label>/``."""
        folder = self._root / name
        index: dict[tuple[str, str], Path] = {}
        if not folder.is_dir():
            return index
        for label_dir in _label_folders(folder):
            for path in _samples_in(label_dir):
                key = (label_dir.name, sample_stem(path))
                if key in index:
                    raise DataSourceError(
                        f"{label_dir}: two masks for sample {key[1]!r}: {index[key].name} and {path.name}"
                    )
                index[key] = path
        return index

    @property
    def root(self) -> Path:
        """The dataset folder."""
        return self._root

    def __repr__(self) -> str:
        return f"FolderSource({str(self._root)!r}, normal_class={self._normal_class!r}, n={len(self)})"
