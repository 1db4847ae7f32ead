"""What the file-based data sources share: the record list behind the DataSource protocol, split filtering and
the normal-class rule."""

from __future__ import annotations

from collections.abc import Iterable

from seedlens.data.records import SPLITS, Record
from seedlens.errors import ConfigError, DataSourceError


def select(records: Iterable[Record], split: str | None, normal_only: bool) -> list[Record]:
    """Records of ``split`` (all splits when None), only normal ones when ``normal_only``."""
    if split is not None and split not in SPLITS:
        raise ConfigError(f"split must be one of {', '.join(SPLITS)} or None; got {split!r}")
    return [r for r in records if (split is None or r.split == split) and not (normal_only and r.is_anomalous)]


def check_normal_class(where: str, normal_class: str | None, found: Iterable[str], default: str = "normal") -> str:
    """Return the normal class; raise when it names no label of the source (listing the labels found)."""
    labels = sorted(set(found))
    name = default if normal_class is None else normal_class
    if name in labels:
        return name
    listing = ", ".join(repr(x) for x in labels) or "none"
    if normal_class is None:
        raise DataSourceError(
            f"{where}: no sample has the label {default!r}, the default normal class; labels found: {listing}. "
            "Name the normal class with normal_class=... (CLI: --normal-class)"
        )
    raise DataSourceError(
        f"{where}: normal class {normal_class!r} is not a label of this source; labels found: {listing}"
    )


class RecordList:
    """Base of the sources that hold their records in memory (``_records``, ``_normal_class`` set by subclasses)."""

    _records: list[Record]
    _normal_class: str

    @property
    def normal_class(self) -> str:
        """The label that is normal."""
        return self._normal_class

    def records(self, split: str | None = None, *, normal_only: bool = False) -> list[Record]:
        """The samples of ``split`` (all splits when None), in source order.

        Args:
            split: ``"train"``, ``"val"``, ``"test"`` or None.
            normal_only: Keep only samples of the normal class.

        Returns:
            A new list of records.

        Raises:
            ConfigError: when ``split`` is not a known split.
        """
        return select(self._records, split, normal_only)

    def labels(self) -> list[str]:
        """The distinct labels over all splits, sorted."""
        return sorted({r.label for r in self._records})

    def __len__(self) -> int:
        return len(self._records)
