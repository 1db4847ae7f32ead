"""A data source described by a CSV manifest: one row per sample."""

from __future__ import annotations

import csv
from pathlib import Path

from seedlens.data._select import RecordList, check_normal_class
from seedlens.data.records import SPLITS, Record
from seedlens.errors import DataSourceError

__all__ = ["ManifestSource"]

REQUIRED_COLUMNS: tuple[str, ...] = ("path", "label", "split")
OPTIONAL_PATH_COLUMNS: tuple[str, ...] = ("mask", "object_mask")


class ManifestSource(RecordList):
    """Samples listed in a CSV file.

    Columns:

    * ``path`` (required): the sample file (or DICOM series folder), relative to the CSV's folder or absolute.
    * ``label`` (required): class name. The ``normal_class`` label is normal, every other label anomalous.
    * ``split`` (required): ``train``, ``val`` or ``test``.
    * ``mask``, ``object_mask`` (optional, empty cells allowed): ground-truth anomaly mask and object
      mask files, resolved like ``path``.
    * any other column is kept, as a string, in :attr:`Record.meta` (e.g. ``patient``, ``subset``).

    The CSV is parsed and checked when the source is created; the sample files are not touched (a
    manifest may list thousands): a missing file is reported when it is loaded, or all at once by
    :meth:`validate`.

    Args:
        csv_path: The manifest file.
        normal_class: The label that is normal; default ``"normal"``.

    Raises:
        DataSourceError: when the file is missing or unreadable, a required column is missing (the error
            names the missing and the found columns), a split is not train/val/test (the error names the
            line), a path or label is empty, or the normal class is not a label of the manifest.
    """

    def __init__(self, csv_path: str | Path, normal_class: str | None = None) -> None:
        self.csv_path = Path(csv_path)
        self._records = self._parse()
        self._normal_class = check_normal_class(str(self.csv_path), normal_class, (r.label for r in self._records))
        self._records = [
            Record(r.path, r.label, r.split, r.label != self._normal_class, r.mask, r.object_mask, r.meta)
            for r in self._records
        ]

    @property
    def root(self) -> Path:
        """The folder relative paths are resolved against (the CSV's folder)."""
        return self.csv_path.absolute().parent

    def validate(self) -> list[Path]:
        """Check that every listed sample, mask and object mask exists.

        Returns:
            The missing paths, in file order (empty when all exist).
        """
        missing: list[Path] = []
        for r in self._records:
            missing.extend(p for p in (r.path, r.mask, r.object_mask) if p is not None and not p.exists())
        return missing

    def __repr__(self) -> str:
        return f"ManifestSource({str(self.csv_path)!r}, normal_class={self._normal_class!r}, n={len(self)})"

    # ----------------------------------------------------------------------------------------- parsing

    def _parse(self) -> list[Record]:
        if not self.csv_path.is_file():
            raise DataSourceError(f"{self.csv_path}: manifest not found")
        try:
            with self.csv_path.open(newline="", encoding="utf-8-sig") as fh:
                reader = csv.reader(fh)
                header = next(reader, None)
                if header is None:
                    raise DataSourceError(
                        f"{self.csv_path}: manifest is empty; expected a header with path,label,split"
                    )
                columns = self._check_header([c.strip() for c in header])
                rows = [(reader.line_num, row) for row in reader if any(cell.strip() for cell in row)]
        except UnicodeDecodeError as exc:
            raise DataSourceError(f"{self.csv_path}: manifest is not UTF-8 text ({exc})") from None
        except csv.Error as exc:
            raise DataSourceError(f"{self.csv_path}: malformed CSV ({exc})") from None
        if not rows:
            raise DataSourceError(f"{self.csv_path}: manifest has a header but no rows")
        return [self._record(line, columns, row) for line, row in rows]

    def _check_header(self, columns: list[str]) -> list[str]:
        duplicated = sorted({c for c in columns if columns.count(c) > 1})
        if duplicated:
            raise DataSourceError(f"{self.csv_path}: duplicate column(s) {', '.join(duplicated)}")
        missing = [c for c in REQUIRED_COLUMNS if c not in columns]
        if missing:
            raise DataSourceError(
                f"{self.csv_path}: missing required column(s) {', '.join(missing)}; "
                f"found columns: {', '.join(columns) or 'none'} (required: {', '.join(REQUIRED_COLUMNS)})"
            )
        return columns

    def _resolve(self, cell: str) -> Path:
        path = Path(cell)
        return path if path.is_absolute() else self.root / path

    def _record(self, line: int, columns: list[str], row: list[str]) -> Record:
        if len(row) != len(columns):
            raise DataSourceError(
                f"{self.csv_path}: line {line} has {len(row)} cells; the header has {len(columns)} columns"
            )
        cells = {c: v.strip() for c, v in zip(columns, row, strict=True)}
        for col in ("path", "label"):
            if not cells[col]:
                raise DataSourceError(f"{self.csv_path}: line {line}: empty {col!r}")
        split = cells["split"].lower()
        if split not in SPLITS:
            raise DataSourceError(
                f"{self.csv_path}: line {line}: split must be one of {', '.join(SPLITS)}; got {cells['split']!r}"
            )
        optional = {c: self._resolve(cells[c]) if cells.get(c) else None for c in OPTIONAL_PATH_COLUMNS}
        meta = {c: v for c, v in cells.items() if c not in REQUIRED_COLUMNS and c not in OPTIONAL_PATH_COLUMNS}
        return Record(
            path=self._resolve(cells["path"]),
            label=cells["label"],
            split=split,
            is_anomalous=False,  # set once the normal class is known
            mask=optional["mask"],
            object_mask=optional["object_mask"],
            meta=meta,
        )
