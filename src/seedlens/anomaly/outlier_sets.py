"""Outlier sets: the unrelated (or known-bad) samples of Outlier Exposure, from files, folders, a hub or arrays.

An :class:`OutlierSet` only says *which* samples are outliers and reads them raw, as the data's own readers do
(:func:`seedlens.io.read`), so a 16-bit TIFF, a PNG and a NIfTI volume are all read. Making them look like the
detector's inputs — channels, grid, intensity, size, augmentation — is :class:`~seedlens.anomaly.OutlierExposure`'s
job. A fixed, seeded subset of N outliers (:meth:`OutlierSet.subset`) is the few-shot protocol of the EOE paper.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from seedlens.errors import ConfigError, DataSourceError, ShapeError
from seedlens.types import Modality

__all__ = ["OutlierSet", "RawOutlier", "check_outliers_option", "parse_count", "recorded_outliers"]


@dataclass(frozen=True)
class RawOutlier:
    """One outlier as read: ``array (C, *spatial)``, its voxel size (None: unknown) and a name for messages."""

    array: np.ndarray
    spacing: tuple[float, ...] | None
    name: str


@dataclass(frozen=True)
class _Entry:
    name: str
    path: Path | None = None
    record: Any = None
    array: np.ndarray | None = None
    scaling_hint: str = "raw"


def parse_count(value: int | str | None) -> int | None:
    """``--outlier-count``: a positive int, ``"all"`` / None (every outlier) or the int written as text.

    Raises:
        ConfigError: for anything else.
    """
    if value is None or value == "all":
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool) and int(value) >= 1:
        return int(value)
    raise ConfigError(f"outlier_count must be a positive integer or 'all'; got {value!r}")


class OutlierSet:
    """A fixed, ordered set of outlier samples, read one at a time.

    Build one with :meth:`from_paths` (files and folders), :meth:`from_records` (records of a data source or a hub
    query) or :meth:`from_arrays`; :meth:`subset` takes a seeded subset of N of them.

    Attributes:
        modality: What the outliers hold (images, volumes or cubes); None: decided by each file's reader.
        scaling_hint: How their values relate to the normal data's: ``match`` for unrelated files (brought onto
            the normal data's value range), ``raw`` for records of the same data (its own instrument) and arrays
            (the caller's values); see :class:`~seedlens.anomaly.OutlierExposure`.
    """

    def __init__(self, entries: Sequence[_Entry], modality: Modality | None) -> None:
        if not entries:
            raise DataSourceError("an outlier set needs at least one outlier")
        self._entries = list(entries)
        self.modality = modality

    @property
    def scaling_hint(self) -> str:
        """The set's scaling hint: ``match``, ``raw``, or ``mixed`` (each outlier follows its own :meth:`hint`).

        ``match`` when every outlier is an unrelated file, ``raw`` when all are the data's own samples or arrays.
        """
        hints = {e.scaling_hint for e in self._entries}
        return hints.pop() if len(hints) == 1 else "mixed"

    def hint(self, index: int) -> str:
        """The scaling hint of outlier ``index``: ``match`` (an unrelated file) or ``raw`` (the data's own, arrays)."""
        return self._entries[index].scaling_hint

    # ------------------------------------------------------------------ building
    @classmethod
    def from_paths(cls, paths: str | Path | Iterable[str | Path], modality: str | Modality | None = None
                   ) -> OutlierSet:
        """Outliers from files and folders (searched recursively for sample files, hidden entries skipped).

        Args:
            paths: One path or several; folders contribute every file with a sample ending
                (:data:`seedlens.data.folder.SAMPLE_SUFFIXES`), files are taken as they are.
            modality: ``image``, ``volume`` or ``cube`` to settle ambiguous layouts (e.g. ``.npy``); None: infer.

        Raises:
            DataSourceError: a path does not exist, or a folder holds no sample file (named, with the endings
                looked for).
        """
        from seedlens.data.folder import SAMPLE_SUFFIXES, find_samples

        given = [paths] if isinstance(paths, (str, Path)) else list(paths)
        if not given:
            raise DataSourceError("no outlier files or folders given")
        found: list[Path] = []
        for raw in given:
            path = Path(raw)
            if path.is_file():
                found.append(path)
            elif path.is_dir():
                files = find_samples(path)  # a folder of DICOM slices is one series, one outlier
                if not files:
                    raise DataSourceError(f"outlier folder {path} holds no sample file (searched recursively for "
                                          f"{', '.join(SAMPLE_SUFFIXES)})")
                found.extend(files)
            else:
                raise DataSourceError(f"outlier path {path} does not exist")
        unique = list(dict.fromkeys(p.resolve() for p in found))
        kind = Modality.parse(modality) if modality is not None else None
        return cls([_Entry(name=str(p), path=p, scaling_hint="match") for p in unique], kind)

    @classmethod
    def from_records(cls, records: Iterable[Any], modality: str | Modality | None = None,
                     scaling_hint: str = "raw") -> OutlierSet:
        """Outliers from data-source records (e.g. the known-bad seeds of a hub query), read with their masks.

        Raises:
            DataSourceError: no record was given (the query selected nothing).
        """
        entries = [_Entry(name=str(r.path), record=r, scaling_hint=scaling_hint) for r in records]
        if not entries:
            raise DataSourceError("the outlier selection holds no sample")
        return cls(entries, Modality.parse(modality) if modality is not None else None)

    @classmethod
    def from_arrays(cls, arrays: Any, modality: str | Modality | None = None) -> OutlierSet:
        """Outliers held in memory: a batch ``(K, C, *spatial)`` or a sequence of ``(C, *spatial)`` arrays.

        Raises:
            ShapeError: a batch with fewer than 4 axes, or an item that is not ``(C, *spatial)``.
        """
        if isinstance(arrays, np.ndarray) or hasattr(arrays, "detach"):
            batch = np.asarray(arrays.detach().cpu() if hasattr(arrays, "detach") else arrays)
            if batch.ndim < 4:
                raise ShapeError(f"outlier arrays must be (K, C, *spatial) with 2 or 3 spatial axes; "
                                 f"got {batch.shape}")
            items = list(batch)
        else:
            items = [np.asarray(a) for a in arrays]
        for i, item in enumerate(items):
            if item.ndim not in (3, 4):
                raise ShapeError(f"outlier array {i} must be (C, H, W) or (C, D, H, W); got {item.shape}")
        entries = [_Entry(name=f"outlier array {i}", array=item) for i, item in enumerate(items)]
        return cls(entries, Modality.parse(modality) if modality is not None else None)

    @classmethod
    def union(cls, sets: Sequence[OutlierSet]) -> OutlierSet:
        """The outliers of several sets, in order, each keeping its own scaling hint."""
        modalities = {s.modality for s in sets} - {None}
        return cls([e for s in sets for e in s._entries], next(iter(modalities)) if len(modalities) == 1 else None)

    def subset(self, count: int | str | None, seed: int = 0) -> OutlierSet:
        """A fixed subset of ``count`` outliers drawn without replacement by ``seed`` (None / ``"all"``: all).

        The same seed and count give the same subset; the subset keeps this set's order.

        Raises:
            ConfigError: ``count`` exceeds the outliers available (both named) or is not a positive int.
        """
        n = parse_count(count)
        if n is None or n == len(self):
            return self
        if n > len(self):
            raise ConfigError(f"outlier_count={n} but only {len(self)} outliers are available")
        chosen = sorted(np.random.default_rng(seed).choice(len(self), size=n, replace=False).tolist())
        return OutlierSet([self._entries[i] for i in chosen], self.modality)

    # ------------------------------------------------------------------ reading
    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"OutlierSet({len(self)} outliers, first {self._entries[0].name!r})"

    @property
    def names(self) -> list[str]:
        """The outliers' names: resolved file paths, record paths or ``outlier array i``."""
        return [e.name for e in self._entries]

    def paths(self) -> list[Path]:
        """The resolved files of the outliers read from files or records."""
        out = []
        for e in self._entries:
            path = e.path if e.path is not None else getattr(e.record, "path", None)
            if path is not None:
                out.append(Path(path).resolve())
        return out

    def load(self, index: int) -> RawOutlier:
        """Read outlier ``index`` raw: ``(C, *spatial)`` as the file holds it.

        Raises:
            ReadError: the file is missing or unreadable (the error names it).
        """
        entry = self._entries[index]
        if entry.array is not None:
            return RawOutlier(entry.array, None, entry.name)
        if entry.record is not None:
            from seedlens.data.loading import load_record

            sample = load_record(entry.record, modality=self.modality)
            return RawOutlier(np.asarray(sample.array), sample.meta.voxel_size, entry.name)
        from seedlens.io import read

        assert entry.path is not None
        array, meta = read(entry.path, modality=self.modality)
        array = np.asarray(array)
        if entry.path.suffix.lower() == ".png" and array.ndim == 3 and array.shape[0] in (2, 4):
            array = array[:-1]  # a picture's alpha channel is no image content
        return RawOutlier(array, meta.voxel_size, entry.name)

    def check_disjoint(self, paths: Iterable[str | Path], what: str = "test") -> None:
        """Refuse outliers that are also samples of ``paths`` (e.g. the test split), by resolved file.

        Raises:
            ConfigError: naming the first shared file and how many there are.
        """
        mine = set(self.paths())
        shared = sorted(str(p) for p in {Path(q).resolve() for q in paths} & mine)
        if shared:
            raise ConfigError(f"{len(shared)} outlier file(s) are also {what} samples (e.g. {shared[0]}); outliers "
                              f"must never be {what} data")


def _is_paths(given: Any) -> bool:
    return isinstance(given, (str, Path)) or (isinstance(given, (list, tuple)) and bool(given)
                                              and all(isinstance(g, (str, Path)) for g in given))


def recorded_outliers(given: Any, outliers: OutlierSet) -> Any:
    """What a run folder records of an ``outliers`` option: paths as given, else the outliers' names (not arrays)."""
    return given if given is None or _is_paths(given) else outliers.names


def check_outliers_option(given: Any, where: str) -> None:
    """Refuse an ``outliers`` option that is not paths, an :class:`OutlierSet` or arrays.

    Raises:
        ConfigError: naming ``where`` (the config class), the value and what is expected.
    """
    if given is None or isinstance(given, OutlierSet) or hasattr(given, "shape") or _is_paths(given):
        return
    if isinstance(given, (list, tuple)) and given and all(hasattr(g, "shape") for g in given):
        return
    raise ConfigError(f"{where}: outliers={given!r} is invalid; expected a file or folder, a non-empty list of "
                      "them, an OutlierSet or arrays (K, C, *spatial)")
