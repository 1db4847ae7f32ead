"""Multi-modal samples for fusion: a CSV manifest, a hub query or a bundle, one row per sample.

A manifest has the columns ``sample_id`` and ``split`` (``train`` / ``val`` / ``test``), one path column per
image-like modality (paths relative to the CSV; an empty cell means the modality is missing for that sample),
and any number of tabular and target columns. A column is a *path column* when every non-empty cell names an
existing file or folder; its kind (``image`` / ``volume`` / ``cube``) comes from reading its first file, or from
``modality_kinds`` (e.g. ``{"ct": "volume"}``). Every other column is tabular: numeric when every non-empty
cell parses as a number, categorical otherwise. Targets are chosen by name from the tabular columns.
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from seedlens.errors import DataSourceError, ReadError, SeedlensError
from seedlens.types import Modality, label_text

REQUIRED_COLUMNS = ("sample_id", "split")
#: Cells that mean "no value" (compared case-insensitively), like an empty cell.
MISSING_TOKENS = frozenset({"na", "n/a", "nan", "null", "none"})


@dataclass
class FusionSample:
    """One sample: files of its image-like modalities and values of its tabular columns.

    Attributes:
        sample_id: Unique id of the sample.
        split: ``train``, ``val``, ``test`` (or ``""`` when unsplit).
        files: Path per image-like modality name; None where the modality is missing.
        values: Raw value per tabular column (str or float); None where the cell is empty.
    """

    sample_id: str
    split: str
    files: dict[str, Path | None] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)


@dataclass
class FusionData:
    """A set of multi-modal samples and the kind of every column.

    Attributes:
        samples: The samples, in source order.
        kinds: Kind per modality/column name: ``image``, ``volume``, ``cube`` for path columns, ``table`` for
            tabular ones.
        numeric: Names of the tabular columns whose values are all numbers.
        source: Where the data came from (manifest path, hub location), for messages.
    """

    samples: list[FusionSample]
    kinds: dict[str, Modality]
    numeric: set[str]
    source: str
    _arrays: dict[tuple[str, str], np.ndarray] = field(default_factory=dict, repr=False)

    def split(self, *names: str) -> FusionData:
        """Return the samples of the given splits (same kinds, shared array cache)."""
        chosen = [s for s in self.samples if s.split in names]
        return FusionData(chosen, self.kinds, self.numeric, self.source, self._arrays)

    def select(self, sample_ids: Iterable[str]) -> FusionData:
        """Return the samples with the given ids, in that order.

        Raises:
            DataSourceError: an id is not in the data (the message names it).
        """
        index = {s.sample_id: s for s in self.samples}
        chosen = []
        for sid in sample_ids:
            if sid not in index:
                raise DataSourceError(f"sample {sid!r} is not in {self.source}")
            chosen.append(index[sid])
        return FusionData(chosen, self.kinds, self.numeric, self.source, self._arrays)

    def __len__(self) -> int:
        return len(self.samples)

    @property
    def image_like(self) -> list[str]:
        """Names of the path (image / volume / cube) columns."""
        return [name for name, kind in self.kinds.items() if kind is not Modality.TABLE]

    def array(self, sample: FusionSample, name: str) -> np.ndarray | None:
        """Return the array of ``sample``'s modality ``name`` (cached), or None when it is missing.

        Raises:
            ReadError: the file cannot be read (the message names it).
        """
        path = sample.files.get(name)
        if path is None:
            return None
        key = (name, str(path))
        if key not in self._arrays:
            from seedlens.io import read

            array, _ = read(path, modality=self.kinds[name])
            self._arrays[key] = np.asarray(array, dtype=np.float32)
        return self._arrays[key]

    def check_columns(self, names: Sequence[str], what: str) -> None:
        """Raise :class:`DataSourceError` unless every name is a column (``what`` says which option gave it)."""
        import difflib

        for name in names:
            if name not in self.kinds:
                close = difflib.get_close_matches(name, list(self.kinds), n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise DataSourceError(f"{what} {name!r} is not a column of {self.source}{hint}; "
                                      f"columns: {', '.join(self.kinds)}")


def parse_number(value: str) -> float | None:
    """Return ``value`` as a float, or None if it is not a finite number."""
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def read_manifest(path: str | Path, modality_kinds: Mapping[str, str] | None = None, *,
                  strict_kinds: bool = True) -> FusionData:
    """Read a fusion manifest CSV (one row per sample).

    Args:
        path: The CSV file.
        modality_kinds: Kind per path column (``image``, ``volume``, ``cube``) where reading the first file should
            not decide it; naming a column here also makes it a path column.
        strict_kinds: Whether a ``modality_kinds`` entry for a column the CSV lacks is an error (True, for user
            input) or ignored (False: a model's kinds applied to data that lacks a modality).

    Raises:
        ReadError: the CSV is missing or unreadable.
        DataSourceError: a required column is missing, a ``sample_id`` repeats or is empty, or a kind is
            unknown; the message names the file, the row and the value.
    """
    csv_path = Path(path)
    if not csv_path.is_file():
        raise ReadError(csv_path, "not found (expected a fusion manifest CSV)")
    with csv_path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        header = [c.strip() for c in (reader.fieldnames or [])]
        rows = []
        for line, row in enumerate(reader, start=2):
            if None in row:
                raise DataSourceError(f"{csv_path}, line {line}: {len(header) + len(row[None])} cells but the header "
                                      f"has {len(header)} columns")
            rows.append({k.strip(): _cell(v) for k, v in row.items()})
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise DataSourceError(f"{csv_path}: missing required column(s) {', '.join(missing)}; "
                              f"a fusion manifest needs {', '.join(REQUIRED_COLUMNS)} (got {', '.join(header)})")
    kinds_given = {name: _kind(name, kind, csv_path) for name, kind in (modality_kinds or {}).items()}
    for name in list(kinds_given):
        if name not in header:
            if strict_kinds:
                raise DataSourceError(f"{csv_path}: --modality-kind names {name!r}, which is not a column")
            del kinds_given[name]
    root = csv_path.parent
    seen: set[str] = set()
    for line, row in enumerate(rows, start=2):
        sid = row["sample_id"]
        if not sid:
            raise DataSourceError(f"{csv_path}, line {line}: empty sample_id")
        if sid in seen:
            raise DataSourceError(f"{csv_path}, line {line}: sample_id {sid!r} appears twice")
        seen.add(sid)
    columns = [c for c in header if c not in REQUIRED_COLUMNS]
    path_columns = [c for c in columns if c in kinds_given or _is_path_column(rows, c, root)]
    kinds: dict[str, Modality] = {}
    for name in path_columns:
        kinds[name] = kinds_given.get(name) or _infer_kind(rows, name, root, csv_path)
    numeric = set()
    for name in columns:
        if name in kinds:
            continue
        kinds[name] = Modality.TABLE
        cells = [row[name] for row in rows if row[name]]
        if cells and all(parse_number(cell) is not None for cell in cells):
            numeric.add(name)
    samples = []
    for line, row in enumerate(rows, start=2):
        files: dict[str, Path | None] = {}
        for name in path_columns:
            cell = row[name]
            file = (root / cell) if cell else None
            if file is not None and not file.exists():
                raise DataSourceError(f"{csv_path}, line {line}: {name} file {cell!r} does not exist ({file})")
            files[name] = file
        values: dict[str, Any] = {}
        for name in columns:
            if name in path_columns:
                continue
            cell = row[name]
            values[name] = None if not cell else (parse_number(cell) if name in numeric else cell)
        samples.append(FusionSample(row["sample_id"], row["split"], files, values))
    return FusionData(samples, kinds, numeric, str(csv_path))


def _cell(value: str | None) -> str:
    text = (value or "").strip()
    return "" if text.lower() in MISSING_TOKENS else text


def _kind(name: str, kind: str, csv_path: Path) -> Modality:
    try:
        modality = Modality.parse(kind)
    except SeedlensError as err:
        raise DataSourceError(f"{csv_path}: --modality-kind {name}={kind}: {err}") from None
    if modality is Modality.TABLE:
        raise DataSourceError(f"{csv_path}: --modality-kind {name}=table: only image, volume or cube name files")
    return modality


def _is_path_column(rows: list[dict[str, str]], name: str, root: Path) -> bool:
    cells = [row[name] for row in rows if row[name]]
    if not cells or any(parse_number(cell) is not None for cell in cells):
        return False
    existing = sum((root / cell).exists() for cell in cells)
    return existing > 0 and existing >= 0.5 * len(cells)  # the rest are then reported as missing files


def _infer_kind(rows: list[dict[str, str]], name: str, root: Path, csv_path: Path) -> Modality:
    from seedlens.io import read

    first = next(row[name] for row in rows if row[name])
    try:
        _, meta = read(root / first)
    except ReadError as err:
        raise DataSourceError(f"{csv_path}: cannot tell the kind of column {name!r} from its first file: {err}; "
                              f"give it with --modality-kind {name}=volume|cube|image") from err
    return meta.modality


def from_hub(
    hub_or_bundle: Any,
    where: str | None = None,
    *,
    project: str | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    token: str | None = None,
) -> FusionData:
    """Read the samples of a hub (local, served or a bundle) as fusion data.

    Each acquisition kind becomes a modality named by its kind (``volume``, ``cube``, ``image``; a sample's most
    recent acquisition of that kind); every sample field (``species``, ``genotype``, ``lot``, ``harvest``,
    ``germination``) and every trait becomes a tabular column. ``split`` is the catalog's split.

    Args:
        hub_or_bundle: An open :class:`~seedlens.hub.Hub` or what ``Hub.open`` takes (folder, URL, bundle).
        where: ``--where`` expression selecting the samples (None: all).
        project: Only this project.
        cache_dir: Where blobs are materialised.
        token: Token for an ``http(s)://`` hub.

    Raises:
        DataSourceError: no sample is selected, or a blob cannot be fetched.
    """
    from seedlens.hub.dataset import materialize
    from seedlens.hub.errors import HubError
    from seedlens.hub.hub import Hub
    from seedlens.hub.settings import HubSettings

    owned = not isinstance(hub_or_bundle, Hub)
    hub = Hub.open(hub_or_bundle, token=token) if owned else hub_or_bundle
    cache = Path(cache_dir) if cache_dir is not None else HubSettings.from_env().cache_dir
    try:
        records = list(hub.iter_samples(where, project=project))
        if not records:
            raise DataSourceError(f"no sample of {hub.location} matches {where!r}")
        modalities = sorted({a.modality for s in records for a in s.acquisitions if a.modality != "table"})
        ids = [r.sample_id for r in records]
        if len(set(ids)) != len(ids):
            raise DataSourceError(f"{hub.location}: the selection holds samples of the same id in several projects; "
                                  "choose one with project=")
        samples: list[FusionSample] = []
        columns: dict[str, set[type]] = {}
        for record in records:
            files: dict[str, Path | None] = dict.fromkeys(modalities)
            for acquisition in (a for a in record.acquisitions if a.modality in files):  # the most recent wins
                try:
                    files[acquisition.modality] = materialize(hub, acquisition, cache)
                except HubError as err:
                    raise DataSourceError(f"sample {record.project}/{record.sample_id}: cannot fetch its "
                                          f"{acquisition.modality} blob: {err}") from err
            values: dict[str, Any] = {k: getattr(record, k) for k in ("species", "genotype", "lot", "harvest",
                                                                       "germination")}
            values.update(record.traits)
            for key, value in values.items():
                columns.setdefault(key, set())
                if value is not None:
                    columns[key].add(type(value))
            samples.append(FusionSample(record.sample_id, record.split or "", files, values))
    finally:
        if owned:
            hub.close()
    numeric = {k for k, types in columns.items() if types and types <= {int, float}}
    for sample in samples:
        for key in columns:
            value = sample.values.get(key)
            sample.values[key] = float(value) if key in numeric and value is not None else value
    kinds = {m: Modality.parse(m) for m in modalities}
    kinds.update({k: Modality.TABLE for k in columns if any(t for t in columns[k])})
    for sample in samples:
        sample.values = {k: v for k, v in sample.values.items() if k in kinds}
    return FusionData(samples, kinds, numeric, str(hub.location) if hasattr(hub, "location") else "hub")


#: Columns that are sample fields in a hub; every other table column is stored as a trait.
HUB_FIELDS = ("species", "genotype", "lot", "harvest", "germination")


def to_hub(data: FusionData, hub: Any, *, project: str = "default") -> int:
    """Store every sample of ``data`` in a writable hub.

    Each image-like modality becomes one acquisition (named by its kind in the hub), the columns of
    :data:`HUB_FIELDS` become sample fields and every other table column a trait.

    :func:`from_hub` reads such a hub back with the modalities named ``volume``, ``cube`` and ``image``.

    Args:
        data: The samples to store.
        hub: A writable local hub (:class:`~seedlens.hub.local.LocalHub`).
        project: Project to store them in.

    Returns:
        The number of samples stored.

    Raises:
        DataSourceError: two path columns have the same kind (a hub tells acquisitions apart by kind only).
        HubImportError: a file cannot be read as its kind (nothing of that file is stored).
    """
    from seedlens.hub.schemas import SampleIn

    by_kind: dict[Modality, str] = {}
    for name in data.image_like:
        kind = data.kinds[name]
        if kind in by_kind:
            raise DataSourceError(f"columns {by_kind[kind]!r} and {name!r} are both {kind.value}s; a hub keeps one "
                                  "acquisition per kind, so store them in separate projects")
        by_kind[kind] = name
    for sample in data.samples:
        fields = {k: label_text(v) for k in HUB_FIELDS if (v := sample.values.get(k)) is not None}
        traits = {k: v for k, v in sample.values.items() if k not in HUB_FIELDS and v is not None}
        record = SampleIn.model_validate({"split": sample.split or None, "traits": traits or None, **fields})
        hub.upsert_sample(sample.sample_id, record, project=project)
        for kind, name in by_kind.items():
            path = sample.files.get(name)
            if path is not None:
                hub.add_file(path, sample_id=sample.sample_id, modality=kind.value, project=project)
    return len(data.samples)
