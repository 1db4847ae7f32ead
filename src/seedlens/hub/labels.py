"""Labels CSV: one row per sample, keyed by ``sample_id``.

Known columns fill sample fields: ``species genotype lot harvest split germination`` and ``tags``
(several tags separated by ``;``). Every other column becomes a trait: numeric when every non-empty
cell is a finite number, text otherwise. Empty cells leave the stored value unchanged.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field
from pathlib import Path

from seedlens.hub import names
from seedlens.hub.errors import InvalidNameError, LabelsError

KNOWN_COLUMNS = ("species", "genotype", "lot", "harvest", "split", "germination")


@dataclass
class LabelRow:
    """One row of a labels CSV (``line`` is the 1-based line in the file)."""

    line: int
    sample_id: str
    fields: dict[str, str] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    traits: dict[str, str] = field(default_factory=dict)


@dataclass
class Labels:
    """A parsed labels CSV."""

    path: Path
    rows: dict[str, LabelRow]
    trait_kinds: dict[str, str]

    def trait_value(self, name: str, raw: str) -> float | str:
        """Convert a raw trait cell to the value stored for its kind."""
        return float(raw) if self.trait_kinds[name] == "num" else raw


def _is_number(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def _decode(path: Path, data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        column = err.start - (data.rfind(b"\n", 0, err.start) + 1) + 1
        raise LabelsError(
            f"{path}: line {line} is not valid UTF-8 (byte 0x{data[err.start]:02x} at column {column}); "
            "save the CSV as UTF-8"
        ) from None


def read_labels(path: str | Path, existing_kinds: dict[str, str] | None = None) -> Labels:
    """Parse and validate a labels CSV.

    Args:
        path: The CSV file.
        existing_kinds: Trait kinds already in the catalog; a numeric trait must stay numeric.

    Returns:
        The rows by sample id and the kind of each trait column.

    Raises:
        LabelsError: the file is unreadable, not UTF-8, has no ``sample_id`` column, ragged or duplicate
            rows, invalid values; the message names the file, the lines and the columns.
    """
    path = Path(path)
    existing_kinds = existing_kinds or {}
    try:
        data = path.read_bytes()
    except OSError as err:
        raise LabelsError(f"{path}: cannot read the labels CSV ({err.strerror or err})") from err
    text = _decode(path, data)
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise LabelsError(f"{path}: the labels CSV is empty; it needs a header with a sample_id column") from None
    except csv.Error as err:
        raise LabelsError(f"{path}: line 1: {err}") from err
    columns = [h.strip().lower() for h in header]
    if "sample_id" not in columns:
        raise LabelsError(
            f"{path}: no 'sample_id' column in the header (line 1); found: {', '.join(repr(h) for h in header)}"
        )
    problems: list[str] = []
    seen_cols: set[str] = set()
    trait_names: dict[int, str] = {}
    for index, (raw, col) in enumerate(zip(header, columns, strict=True)):
        if col in seen_cols:
            problems.append(f"column {raw!r} appears twice in the header")
        seen_cols.add(col)
        if col in ("sample_id", "tags", *KNOWN_COLUMNS):
            continue
        if not col:
            problems.append(f"column {index + 1} has an empty header")
            continue
        try:
            trait_names[index] = names.normalize_trait_name(raw)
        except InvalidNameError as err:
            problems.append(str(err))
    id_index = columns.index("sample_id")
    rows: dict[str, LabelRow] = {}
    first_line: dict[str, int] = {}
    cells: dict[str, list[tuple[int, str]]] = {name: [] for name in trait_names.values()}
    while True:
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error as err:
            problems.append(f"line {reader.line_num}: {err}")
            break
        line = reader.line_num
        if not any(cell.strip() for cell in record):
            continue
        if len(record) != len(header):
            problems.append(f"line {line} has {len(record)} fields; the header has {len(header)}")
            continue
        try:
            sample_id = names.check_sample_id(record[id_index])
        except InvalidNameError as err:
            problems.append(f"line {line}: {err}")
            continue
        if sample_id in first_line:
            problems.append(f"duplicate sample_id {sample_id!r} on lines {first_line[sample_id]} and {line}")
            continue
        first_line[sample_id] = line
        row = LabelRow(line, sample_id)
        for index, (col, cell) in enumerate(zip(columns, record, strict=True)):
            cell = cell.strip()
            if not cell or index == id_index:
                continue
            try:
                if col == "tags":
                    row.tags = sorted({names.check_tag(t) for t in cell.split(";") if t.strip()})
                elif col == "germination":
                    row.fields[col] = names.check_germination(cell)
                elif col == "split":
                    row.fields[col] = names.check_split(cell)
                elif col in KNOWN_COLUMNS:
                    row.fields[col] = names.check_label(cell, col)
                elif index in trait_names:
                    row.traits[trait_names[index]] = names.check_label(cell, f"trait {trait_names[index]!r}", 1024)
                    cells[trait_names[index]].append((line, cell))
            except InvalidNameError as err:
                problems.append(f"line {line}, column {header[index]!r}: {err}")
        rows[sample_id] = row
    kinds: dict[str, str] = {}
    for name, values in cells.items():
        numeric = all(_is_number(v) for _, v in values)
        kind = "num" if numeric and values else "text"
        stored = existing_kinds.get(name)
        if stored == "num" and not numeric:
            bad = next((ln, v) for ln, v in values if not _is_number(v))
            problems.append(
                f"line {bad[0]}, column {name!r}: trait {name!r} is numeric in the catalog; got {bad[1]!r}"
            )
        kinds[name] = stored or kind
    if problems:
        shown = "\n".join(f"  - {p}" for p in problems[:20])
        more = f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else ""
        raise LabelsError(f"{path}: {len(problems)} problem(s) in the labels CSV:\n{shown}{more}")
    return Labels(path, rows, kinds)
