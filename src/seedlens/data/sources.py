"""Data sources: where labelled samples come from (a CSV manifest or a dataset folder).

A data source lists :class:`~seedlens.data.records.Record` objects (paths and labels); it loads
nothing. Both built-in sources, and any other object with the same members (e.g. a hub query),
satisfy the :class:`DataSource` protocol that detectors accept.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, runtime_checkable

from seedlens.data.folder import FolderSource
from seedlens.data.manifest import ManifestSource
from seedlens.data.records import Record
from seedlens.errors import DataSourceError

__all__ = ["DataSource", "FolderSource", "ManifestSource", "open_source"]


@runtime_checkable
class DataSource(Protocol):
    """What every data source offers: labelled records per split, the label set and the normal class."""

    @property
    def root(self) -> Path:
        """The folder relative paths of the source refer to."""
        ...

    @property
    def normal_class(self) -> str:
        """The label that is normal; every other label is anomalous."""
        ...

    def records(self, split: str | None = None, *, normal_only: bool = False) -> list[Record]:
        """The records of ``split`` (all when None), only normal ones when ``normal_only``."""
        ...

    def labels(self) -> list[str]:
        """The distinct labels, sorted."""
        ...


def open_source(path: str | Path, normal_class: str | None = None) -> ManifestSource | FolderSource:
    """Open a data source by its path: a ``.csv`` file is a manifest, a folder is a dataset folder.

    Args:
        path: A CSV manifest or a dataset folder.
        normal_class: The normal label; default ``"normal"``.

    Returns:
        A :class:`ManifestSource` or a :class:`FolderSource`.

    Raises:
        DataSourceError: when ``path`` does not exist, or is a file that is not a ``.csv`` manifest.
    """
    p = Path(path)
    if p.is_dir():
        return FolderSource(p, normal_class="normal" if normal_class is None else normal_class)
    if p.suffix.lower() == ".csv":
        return ManifestSource(p, normal_class=normal_class)
    if not p.exists():
        raise DataSourceError(f"{p}: no such file or folder; expected a .csv manifest or a dataset folder")
    raise DataSourceError(f"{p}: expected a .csv manifest or a dataset folder; got a {p.suffix or 'suffix-less'} file")
