"""The hub facade used by the CLI and by Python users: ``Hub.open(url_or_path)``.

``Hub.open`` accepts a hub folder (SQLite catalog + local blobs), a database URL
(``sqlite:///...`` or ``postgresql+psycopg://...``; the store URL is recorded in the catalog), an
``http(s)://`` URL of a served hub (token from ``SEEDLENS_TOKEN``), or a bundle (folder or ``.tar``,
always read-only). Local hubs are :class:`~seedlens.hub.local.LocalHub`, served hubs
:class:`~seedlens.hub.remote.RemoteHub`; both implement this interface.
"""

from __future__ import annotations

import io
import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from seedlens.hub.schemas import (
    BlobOut,
    FieldOut,
    HubInfoOut,
    ModelOut,
    PredictionIn,
    PredictionOut,
    SampleOut,
    TokenOut,
)
from seedlens.hub.settings import HubSettings, resolve_hub

if TYPE_CHECKING:
    from seedlens.hub.importer import ImportReport
    from seedlens.hub.local import LocalHub
    from seedlens.hub.splits import SplitReport

PredictionItem = PredictionIn | tuple[str, float] | tuple[str, float, "np.ndarray | None"]


class Hub(ABC):
    """A data hub: catalog of samples, blob store, models and predictions.

    Attributes:
        location: Where the hub is (folder, database URL, HTTP URL or bundle path).
        read_only: Writes raise :class:`~seedlens.hub.errors.ReadOnlyHubError`.
        is_bundle: The hub is a bundle (self-contained, checksummed, read-only).
    """

    location: str
    read_only: bool = False
    is_bundle: bool = False

    # ---- opening ---------------------------------------------------------------------------------

    @staticmethod
    def open(target: str | os.PathLike[str] | None = None, *, token: str | None = None, read_only: bool = False,
             settings: HubSettings | None = None, storage_options: dict[str, Any] | None = None) -> Hub:
        """Open a hub.

        Args:
            target: Folder, database URL, ``http(s)://`` URL or bundle; None means ``SEEDLENS_HUB`` or the
                default recorded by ``seedlens hub init``.
            token: Token for an HTTP hub (default ``SEEDLENS_TOKEN``).
            read_only: Refuse writes.
            settings: Settings (default: from the environment).
            storage_options: fsspec options for the blob store (default ``SEEDLENS_STORE_OPTIONS``).

        Returns:
            A :class:`~seedlens.hub.local.LocalHub` or :class:`~seedlens.hub.remote.RemoteHub`.

        Raises:
            HubNotFoundError: nothing names a hub, or there is no hub at ``target``.
            CatalogVersionError: the catalog needs ``seedlens hub init`` to upgrade it.
        """
        settings = settings or HubSettings.from_env()
        where = resolve_hub(target, settings)
        if where.startswith(("http://", "https://")):
            from seedlens.hub.remote import RemoteHub

            return RemoteHub(where, token=token or settings.token_value(), settings=settings)
        from seedlens.hub.local import LocalHub

        return LocalHub.from_location(where, read_only=read_only or settings.read_only,
                             storage_options=storage_options if storage_options is not None else settings.store_options,
                             settings=settings)

    @staticmethod
    def init(url: str | os.PathLike[str] | None = None, store: str | None = None, *,
             storage_options: dict[str, Any] | None = None) -> LocalHub:
        """Create (or upgrade) a hub and return it open.

        Args:
            url: A folder (default ``$XDG_DATA_HOME/seedlens/hub``) or a database URL.
            store: Blob store URL; default the hub folder (folder hubs) or ``<file>.blobs`` next to a SQLite
                file. Required for PostgreSQL.
            storage_options: fsspec options for the store.

        Raises:
            ConfigError: a PostgreSQL hub without ``store``, or a store that differs from the recorded one.
        """
        from seedlens.hub.local import LocalHub

        return LocalHub.create(url, store, storage_options=storage_options)

    # ---- reading ---------------------------------------------------------------------------------

    @abstractmethod
    def info(self) -> HubInfoOut:
        """Return counts, projects and the fields usable in ``where`` expressions."""

    @abstractmethod
    def fields(self) -> list[FieldOut]:
        """Return the fields usable in ``where`` expressions."""

    @abstractmethod
    def iter_samples(self, where: str | None = None, *, project: str | None = None,
                     page_size: int = 500) -> Iterator[SampleOut]:
        """Yield matching samples in insertion order, page by page.

        Raises:
            ExprError: ``where`` is malformed or names an unknown field.
        """

    def samples(self, where: str | None = None, *, project: str | None = None,
                limit: int | None = None) -> list[SampleOut]:
        """Return matching samples (all of them, or the first ``limit``)."""
        out: list[SampleOut] = []
        for sample in self.iter_samples(where, project=project, page_size=min(limit or 500, 500)):
            out.append(sample)
            if limit is not None and len(out) >= limit:
                break
        return out

    @abstractmethod
    def count(self, where: str | None = None, *, project: str | None = None) -> int:
        """Return how many samples match."""

    @abstractmethod
    def sample(self, sample_id: str, *, project: str | None = None) -> SampleOut:
        """Return one sample.

        Raises:
            NotFoundError: no such sample.
        """

    @abstractmethod
    def fetch_blob(self, digest: str, dest: str | Path) -> Path:
        """Copy a blob to the local file ``dest`` (atomically, hash verified); return ``dest``.

        Raises:
            BlobNotFoundError: no such blob.
            BlobCorruptError: the bytes do not match the hash.
        """

    @abstractmethod
    def models(self) -> list[ModelOut]:
        """Return the registered models, oldest first."""

    @abstractmethod
    def model(self, uid: str) -> ModelOut:
        """Return one model by uid.

        Raises:
            NotFoundError: no such model.
        """

    @abstractmethod
    def predictions(self, model: str | ModelOut | None = None, *, where: str | None = None,
                    project: str | None = None) -> list[PredictionOut]:
        """Return stored predictions, optionally of one model and for samples matching ``where``."""

    # ---- writing ---------------------------------------------------------------------------------

    @abstractmethod
    def put_blob_bytes(self, data: bytes) -> BlobOut:
        """Store raw bytes as a blob (e.g. a heatmap); return its address."""

    @abstractmethod
    def register_model(self, config: dict[str, Any], metrics: dict[str, Any] | None = None, query: str | None = None,
                       data_hash: str | None = None, *, name: str | None = None,
                       modality: str | None = None) -> ModelOut:
        """Record a trained model: its resolved config, metrics, and the query and data hash it was trained on.

        Args:
            config: The run's resolved configuration (JSON-serialisable).
            metrics: Evaluation metrics (JSON-serialisable).
            query: The ``where`` expression of the training data.
            data_hash: :attr:`HubSource.data_hash` of the training data.
            name: A human-readable name (e.g. the run folder).
            modality: The modality the model scores.

        Returns:
            The model record; pass it (or its ``uid``) to :meth:`write_predictions`.
        """

    def write_predictions(self, model: str | ModelOut, items: Iterable[PredictionItem], *,
                          project: str | None = None, batch_size: int = 1000) -> int:
        """Store scores (higher = more anomalous) and optional heatmaps for samples; return how many.

        A second prediction of the same model for the same sample replaces the first.

        Args:
            model: The model record from :meth:`register_model` or its uid.
            items: ``(sample_id, score)`` or ``(sample_id, score, heatmap)`` tuples, where ``heatmap`` is an
                array (any layout, e.g. ``(1, H, W)`` or ``(1, D, H, W)``) stored as a ``.npy`` blob, or
                :class:`~seedlens.hub.schemas.PredictionIn` objects. A ``sample_id`` may be written
                ``project/sample_id`` (``HubSource`` records carry it as ``meta["key"]``).
            project: Project of the bare sample ids (needed only when an id exists in several projects).
            batch_size: Predictions per catalog transaction / request.

        Raises:
            NotFoundError: an unknown model or sample id.
            ReadOnlyHubError: the hub is read-only.
        """
        uid = model.uid if isinstance(model, ModelOut) else str(model)
        total = 0
        batches: dict[str | None, list[PredictionIn]] = {}
        for item in items:
            item_project, prediction = self._prediction_in(item, project)
            batch = batches.setdefault(item_project, [])
            batch.append(prediction)
            if len(batch) >= batch_size:
                total += self._write_prediction_batch(uid, batches.pop(item_project), item_project)
        for item_project, batch in batches.items():
            total += self._write_prediction_batch(uid, batch, item_project)
        return total

    def _prediction_in(self, item: PredictionItem, project: str | None) -> tuple[str | None, PredictionIn]:
        if isinstance(item, PredictionIn):
            return project, item
        key, score, *rest = item
        item_project, _, sample_id = str(key).rpartition("/")
        heatmap = rest[0] if rest else None
        digest = None
        if heatmap is not None:
            buffer = io.BytesIO()
            np.save(buffer, np.asarray(heatmap), allow_pickle=False)
            digest = self.put_blob_bytes(buffer.getvalue()).blob
        return item_project or project, PredictionIn(sample_id=sample_id, score=float(score), heatmap=digest)

    @abstractmethod
    def _write_prediction_batch(self, uid: str, items: Sequence[PredictionIn], project: str | None) -> int: ...

    @abstractmethod
    def bundle(self, out: str | Path, where: str | None = None, *, project: str | None = None) -> Path:
        """Compile matching samples into a bundle at ``out`` (a folder, or a ``.tar`` file if it ends so).

        Raises:
            ExprError: malformed ``where``.
            BundleError: ``out`` exists and is not empty.
        """

    @abstractmethod
    def import_dir(self, folder: str | Path, modality: str, *, labels: str | Path | None = None,
                   id_pattern: str | None = None, project: str = "default", keep_phi: bool = False,
                   progress: Callable[[str], None] | None = None) -> ImportReport:
        """Import every file under ``folder`` (``seedlens hub import``); see :meth:`LocalHub.import_dir`."""

    @abstractmethod
    def split(self, by: str, ratios: str | Sequence[float], *, seed: int = 0, where: str | None = None,
              project: str | None = None, names: Sequence[str] | None = None) -> SplitReport:
        """Assign grouped splits (``seedlens hub split``); see :meth:`LocalHub.split`."""

    @abstractmethod
    def create_token(self, name: str, scope: str = "read") -> tuple[TokenOut, str]:
        """Create an API token; return its record and the token text (shown once)."""

    @abstractmethod
    def revoke_token(self, name: str) -> TokenOut:
        """Revoke an API token by name."""

    @abstractmethod
    def tokens(self) -> list[TokenOut]:
        """Return every token's name, scope and state (never secrets)."""

    # ---- lifecycle -------------------------------------------------------------------------------

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""

    def __enter__(self) -> Hub:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
