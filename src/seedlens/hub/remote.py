"""A hub served over HTTP, behind the same :class:`~seedlens.hub.hub.Hub` interface as a local one."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

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
    SplitIn,
    TokenOut,
)
from seedlens.hub.settings import HubSettings
from seedlens.hub.splits import SplitReport

if TYPE_CHECKING:
    from seedlens.hub.importer import ImportReport


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

    def import_dir(self, folder: str | Path, modality: str, *, labels: str | Path | None = None,
                   id_pattern: str | None = None, project: str = "default", keep_phi: bool = False,
                   progress: Callable[[str], None] | None = None) -> ImportReport:
        """Import a folder by uploading it (see :func:`seedlens.hub.remote_import.import_remote`)."""
        from seedlens.hub.remote_import import import_remote

        return import_remote(self, Path(folder), modality, labels=labels, id_pattern=id_pattern, project=project,
                             keep_phi=keep_phi, progress=progress)

    def split(self, by: str, ratios: str | Sequence[float], *, seed: int = 0, where: str | None = None,
              project: str | None = None, names: Sequence[str] | None = None) -> SplitReport:
        """Have the server assign grouped splits."""
        text = ratios if isinstance(ratios, str) else ",".join(str(r) for r in ratios)
        out = self.client.split(SplitIn(by=by, ratios=text, seed=seed, where=where, project=project,
                                        names=list(names) if names else None))
        return SplitReport(by=out.by, samples=dict(out.samples), groups=dict(out.groups), warnings=list(out.warnings))

    def create_token(self, name: str, scope: str = "read") -> tuple[TokenOut, str]:
        """Create a token on the server (admin scope)."""
        created = self.client.create_token(name, scope)
        return TokenOut(name=created.name, scope=created.scope, created_at=created.created_at), created.token

    def revoke_token(self, name: str) -> TokenOut:
        """Revoke a token on the server (admin scope)."""
        return self.client.revoke_token(name)

    def tokens(self) -> list[TokenOut]:
        """List the server's tokens (admin scope)."""
        return self.client.tokens()
