"""``HubSource``: a hub, served hub or bundle as a seedlens data source for any detector.

Blobs are materialised into a local cache as files ``seedlens.io.read`` can open: a ``file`` blob
becomes ``<cache>/files/<sha256><suffix>`` (the original bytes with the original suffix, e.g.
``.nii.gz``); a ``tar`` blob (DICOM series, ENVI header + data...) is extracted to
``<cache>/files/<sha256>/`` and the record points at the folder (DICOM) or at the header inside it.
Cached files are written atomically after their hash was verified, and are shared between hubs.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

from seedlens.errors import DataSourceError
from seedlens.hub.errors import HubError
from seedlens.hub.hub import Hub
from seedlens.hub.pack import extract_pack
from seedlens.hub.schemas import AcquisitionOut, SampleOut
from seedlens.hub.settings import HubSettings
from seedlens.types import Modality, label_text

log = logging.getLogger(__name__)


def materialize(hub: Hub, acquisition: AcquisitionOut, cache_dir: str | Path) -> Path:
    """Return a local path ``seedlens.io.read`` can open for ``acquisition``, fetching its blob if needed.

    Args:
        hub: The hub holding the blob.
        acquisition: The acquisition (from a :class:`~seedlens.hub.schemas.SampleOut`).
        cache_dir: The cache folder.

    Raises:
        BlobNotFoundError: the hub lacks the blob.
        BlobCorruptError: the blob does not match its hash.
    """
    files = Path(cache_dir) / "files"
    digest = acquisition.blob
    if acquisition.kind == "file":
        target = files / f"{digest}{acquisition.suffix}"
        if not target.is_file() or target.stat().st_size != acquisition.size:
            hub.fetch_blob(digest, target)
        return target
    folder = files / digest
    if not folder.is_dir():
        files.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=files, prefix=".fetch-") as scratch:
            pack = hub.fetch_blob(digest, Path(scratch) / "pack.tar")
            extract_pack(pack, folder)
    return folder / acquisition.entry if acquisition.entry else folder


class HubSource:
    """Samples of a hub (local, served, or a bundle) as a seedlens ``DataSource``.

    Any detector can ``fit(HubSource(...))``: :meth:`records` returns
    :class:`seedlens.data.records.Record` objects whose ``path`` is a cached local file.

    Args:
        hub_or_bundle: An open :class:`~seedlens.hub.hub.Hub`, or what :meth:`Hub.open` takes
            (folder, database URL, ``http(s)://`` URL, bundle folder or ``.tar``).
        where: ``--where`` expression selecting the samples (None: all).
        label_field: Sample field or trait that holds the class (``germination`` by default).
        normal_class: The value of ``label_field`` that means normal.
        modality: Which acquisitions to use; None takes the only modality present (error if several).
        project: Only this project.
        cache_dir: Where blobs are materialised (default: ``SEEDLENS_CACHE_DIR`` / ``$XDG_CACHE_HOME``).
        token: Token for an ``http(s)://`` hub.

    Each sample gives one record: its most recent acquisition of the modality. ``label`` is the
    sample's ``label_field`` value (``""`` when missing), ``is_anomalous`` is ``label != normal_class``
    for labelled samples and False for unlabelled ones, and ``split`` is the catalog's split (``""``
    when unsplit). ``meta`` holds ``project``, ``sample_id``, ``key`` (``project/sample_id``, what
    :meth:`Hub.write_predictions` takes), ``blob``, ``modality`` and the sample fields.

    Example:
        >>> source = HubSource("hub/", where='species = "wheat"', normal_class="normal", modality="volume")
        >>> detector.fit(source)
    """

    def __init__(self, hub_or_bundle: Hub | str | os.PathLike[str], where: str | None = None,
                 label_field: str = "germination", normal_class: str = "normal",
                 modality: str | Modality | None = None, *, project: str | None = None,
                 cache_dir: str | Path | None = None, token: str | None = None) -> None:
        self._owned = not isinstance(hub_or_bundle, Hub)
        self.hub = hub_or_bundle if isinstance(hub_or_bundle, Hub) else Hub.open(hub_or_bundle, token=token)
        self.where = where
        self.label_field = label_field
        self.normal_class = normal_class
        self.modality = Modality.parse(modality) if modality is not None else None
        self.project = project
        self.cache_dir = Path(cache_dir) if cache_dir is not None else HubSettings.from_env().cache_dir
        self._samples: list[tuple[SampleOut, AcquisitionOut]] | None = None

    def __repr__(self) -> str:
        return (f"HubSource({self.hub.location!r}, where={self.where!r}, label_field={self.label_field!r}, "
                f"normal_class={self.normal_class!r}, modality={self.modality.value if self.modality else None!r})")

    @property
    def root(self) -> Path:
        """The cache folder the records' paths lie in."""
        return self.cache_dir / "files"

    def _selected(self) -> list[tuple[SampleOut, AcquisitionOut]]:
        if self._samples is not None:
            return self._samples
        fields = {f.name for f in self.hub.fields()}
        if self.label_field not in fields or self.label_field in ("modality", "tag", "project"):
            raise DataSourceError(f"label_field {self.label_field!r} is not a sample field or trait of "
                                  f"{self.hub.location}; known: {', '.join(sorted(fields))}")
        samples = list(self.hub.iter_samples(self.where, project=self.project))
        modality = self.modality
        if modality is None:
            present = sorted({a.modality for s in samples for a in s.acquisitions})
            if len(present) > 1:
                raise DataSourceError(f"the selected samples have several modalities ({', '.join(present)}); "
                                      "pass modality=")
            modality = Modality.parse(present[0]) if present else None
        chosen: list[tuple[SampleOut, AcquisitionOut]] = []
        skipped = 0
        for sample in samples:
            matches = [a for a in sample.acquisitions if modality is not None and a.modality == modality.value]
            if matches:
                chosen.append((sample, matches[-1]))
            else:
                skipped += 1
        if skipped:
            log.warning("%d selected sample(s) have no %s acquisition and are left out", skipped,
                        modality.value if modality else "")
        self._samples = chosen
        return chosen

    def _label(self, sample: SampleOut) -> str:
        value = sample.field(self.label_field)
        return "" if value is None else label_text(value)

    def records(self, split: str | None = None, *, normal_only: bool = False) -> list[Any]:
        """Return the records, materialising their blobs into the cache.

        Args:
            split: Only this split (``train``, ``val``, ``test``...); None: all.
            normal_only: Only samples labelled ``normal_class``.

        Returns:
            ``seedlens.data.records.Record`` objects in catalog order.

        Raises:
            DataSourceError: unknown ``label_field``, several modalities without ``modality=``, or a blob
                that cannot be fetched (the message names the sample).
        """
        from seedlens.data.records import Record

        out = []
        for sample, acquisition in self._selected():
            if split is not None and (sample.split or "") != split:
                continue
            label = self._label(sample)
            if normal_only and label != self.normal_class:
                continue
            try:
                path = materialize(self.hub, acquisition, self.cache_dir)
            except HubError as err:
                raise DataSourceError(f"sample {sample.project}/{sample.sample_id}: cannot fetch its "
                                      f"{acquisition.modality} blob: {err}") from err
            meta = {"project": sample.project, "sample_id": sample.sample_id, "blob": acquisition.blob,
                    "modality": acquisition.modality, "key": f"{sample.project}/{sample.sample_id}"}
            meta.update({k: str(v) for k in ("species", "genotype", "lot", "harvest")
                         if (v := getattr(sample, k)) is not None})
            out.append(Record(path=path, label=label, split=sample.split or "",
                              is_anomalous=bool(label) and label != self.normal_class, meta=meta))
        return out

    def labels(self) -> list[str]:
        """Return the sorted distinct labels of the selected samples (unlabelled samples excluded)."""
        return sorted({label for s, _ in self._selected() if (label := self._label(s))})

    @property
    def data_hash(self) -> str:
        """sha256 over (project, sample id, blob, label, split) of every selected sample, in order.

        Pass it to :meth:`Hub.register_model` so a model records exactly which data it saw.
        """
        digest = hashlib.sha256()
        for sample, acquisition in self._selected():
            line = "\t".join([sample.project, sample.sample_id, acquisition.blob, self._label(sample),
                              sample.split or ""])
            digest.update(line.encode() + b"\n")
        return digest.hexdigest()

    def close(self) -> None:
        """Close the hub if this source opened it."""
        if self._owned:
            self.hub.close()

    def __enter__(self) -> HubSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def refresh(self) -> None:
        """Forget the cached selection so the next call queries the hub again."""
        self._samples = None
