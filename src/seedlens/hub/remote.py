"""A hub served over HTTP, behind the same :class:`~seedlens.hub.hub.Hub` interface as a local one."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from seedlens.hub.client import HubClient
from seedlens.hub.hub import Hub
from seedlens.hub.schemas import (
    BlobOut,
    FieldOut,
    HubInfoOut,
    ModelIn,
    ModelOut,
    PredictionIn,
    PredictionOut,
    SampleOut,
)
from seedlens.hub.settings import HubSettings


class RemoteHub(Hub):
    """A served hub (``seedlens hub serve``) reached with a token.

    Args:
        url: Base URL of the server.
        token: Token with the scope the calls need (read for listing/downloading, write for predictions).
        settings: Settings (timeouts and cache come from here).
    """

    def __init__(self, url: str, *, token: str | None = None, settings: HubSettings | None = None) -> None:
        self.location = url
        self.settings = settings or HubSettings.from_env()
        self.client = HubClient(url, token)
        self.read_only = False

    def __repr__(self) -> str:
        return f"RemoteHub({self.location!r})"

    def close(self) -> None:
        """Close the HTTP connections."""
        self.client.close()

    def info(self) -> HubInfoOut:
        """Return counts, projects and fields."""
        return self.client.info()

    def fields(self) -> list[FieldOut]:
        """Return the fields usable in ``where``."""
        return self.client.fields()

    def iter_samples(self, where: str | None = None, *, project: str | None = None,
                     page_size: int = 500) -> Iterator[SampleOut]:
        """Yield matching samples page by page."""
        return self.client.iter_samples(where, project=project, page_size=page_size)

    def count(self, where: str | None = None, *, project: str | None = None) -> int:
        """Return how many samples match."""
        return self.client.samples_page(where, project=project, limit=1, count=True).total or 0

    def sample(self, sample_id: str, *, project: str | None = None) -> SampleOut:
        """Return one sample."""
        return self.client.sample(sample_id, project=project)

    def fetch_blob(self, digest: str, dest: str | Path) -> Path:
        """Download a blob (verified, resumable)."""
        return self.client.download(digest, dest)

    def models(self) -> list[ModelOut]:
        """Return the registered models."""
        return self.client.models()

    def model(self, uid: str) -> ModelOut:
        """Return one model."""
        return self.client.model(uid)

    def predictions(self, model: str | ModelOut | None = None, *, where: str | None = None,
                    project: str | None = None) -> list[PredictionOut]:
        """Return stored predictions."""
        uid = model.uid if isinstance(model, ModelOut) else model
        return self.client.predictions(uid, where=where, project=project)

    def put_blob_bytes(self, data: bytes) -> BlobOut:
        """Upload raw bytes as a blob."""
        return self.client.put_blob(data)

    def register_model(self, config: dict[str, Any], metrics: dict[str, Any] | None = None, query: str | None = None,
                       data_hash: str | None = None, *, name: str | None = None,
                       modality: str | None = None) -> ModelOut:
        """Register a model on the server."""
        return self.client.register_model(ModelIn(name=name, modality=modality, config=config, metrics=metrics or {},
                                                  query=query, data_hash=data_hash))

    def _write_prediction_batch(self, uid: str, items: Sequence[PredictionIn], project: str | None) -> int:
        return self.client.write_predictions(uid, items, project=project)

    def bundle(self, out: str | Path, where: str | None = None, *, project: str | None = None) -> Path:
        """Have the server compile a bundle; ``out`` must end in ``.tar``."""
        out = Path(out)
        if out.suffix != ".tar":
            from seedlens.hub.errors import BundleError

            raise BundleError(f"a bundle from a served hub is a .tar archive; got {out}")
        return self.client.bundle(out, where, project=project)
