"""A hub whose catalog and store this process opens directly (folder, database URL or bundle)."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, selectinload

from seedlens import __version__
from seedlens.errors import ConfigError
from seedlens.hub import names, tokens
from seedlens.hub.catalog import migrate, queries
from seedlens.hub.catalog.engine import (
    CATALOG_FILE,
    create_catalog_engine,
    is_database_url,
    session_factory,
    sqlite_url,
)
from seedlens.hub.catalog.models import Acquisition, HubInfo, Model, Prediction, Project, Sample
from seedlens.hub.catalog.views import model_out, prediction_out
from seedlens.hub.errors import HubNotFoundError, NotFoundError, ReadOnlyHubError
from seedlens.hub.hub import Hub
from seedlens.hub.schemas import (
    BlobOut,
    FieldOut,
    HubInfoOut,
    ModelOut,
    PredictionIn,
    PredictionOut,
    SampleIn,
    SampleOut,
    TokenOut,
    UploadOut,
)
from seedlens.hub.settings import HubSettings, data_dir
from seedlens.hub.store import BlobStore
from seedlens.hub.tokens import TokenInfo

if TYPE_CHECKING:
    from seedlens.hub.importer import ImportReport
    from seedlens.hub.merge import MergeReport
    from seedlens.hub.provenance import ParentLink
    from seedlens.hub.splits import SplitReport
    from seedlens.hub.verify import VerifyReport

MANIFEST = "manifest.json"


class LocalHub(Hub):
    """A hub opened directly: SQLAlchemy catalog + :class:`~seedlens.hub.store.BlobStore`.

    Use :meth:`Hub.open` / :meth:`Hub.init` rather than the constructor.

    Args:
        engine: Engine of the catalog.
        store: The blob store.
        location: How the hub was named (for messages).
        read_only: Refuse writes.
        is_bundle: The hub is a bundle.
    """

    def __init__(self, engine: Engine, store: BlobStore, *, location: str, read_only: bool = False,
                 is_bundle: bool = False, settings: HubSettings | None = None) -> None:
        self.engine = engine
        self.store = store
        self.location = location
        self.read_only = read_only or is_bundle
        self.is_bundle = is_bundle
        self.settings = settings or HubSettings.from_env()
        self._sessions = session_factory(engine)

    def __repr__(self) -> str:
        mode = "bundle" if self.is_bundle else "read-only" if self.read_only else "read-write"
        return f"LocalHub({self.location!r}, {mode})"

    # ---- opening ---------------------------------------------------------------------------------

    @classmethod
    def from_location(cls, where: str | os.PathLike[str], *, read_only: bool = False,
             storage_options: dict[str, Any] | None = None, settings: HubSettings | None = None) -> LocalHub:
        """Open a folder hub, database URL or bundle (see :meth:`Hub.open`)."""
        where = str(where)
        settings = settings or HubSettings.from_env()
        if is_database_url(where):
            engine = create_catalog_engine(where)
            try:
                migrate.check_revision(engine, _safe_url(where))
                store_url = _info(engine).get("store_url")
            except Exception:
                engine.dispose()
                raise
            if not store_url:
                engine.dispose()
                raise HubNotFoundError(f"{_safe_url(where)}: the catalog records no blob store; run "
                                       "`seedlens hub init --url URL --store STORE`")
            return cls(engine, BlobStore(store_url, storage_options, read_only=read_only), location=where,
                       read_only=read_only, settings=settings)
        path = Path(where).expanduser()
        if path.is_file() and path.suffix == ".tar":
            from seedlens.hub.bundle import extract_bundle

            path = extract_bundle(path, settings.cache_dir)
        if (path / MANIFEST).is_file():
            return cls._open_bundle(path, settings)
        catalog = path / CATALOG_FILE
        if not catalog.is_file():
            raise HubNotFoundError(f"no hub at {path}: no {CATALOG_FILE} there; create one with "
                                   f"`seedlens hub init --url {path}`")
        url = sqlite_url(catalog, read_only=read_only)
        engine = create_catalog_engine(url, read_only=read_only)
        try:
            migrate.check_revision(engine, str(path))
            store_url = _info(engine).get("store_url") or "."
        except Exception:
            engine.dispose()
            raise
        store_url = str(path) if store_url == "." else store_url
        return cls(engine, BlobStore(store_url, storage_options, read_only=read_only), location=str(path),
                   read_only=read_only, settings=settings)

    @classmethod
    def _open_bundle(cls, path: Path, settings: HubSettings) -> LocalHub:
        from seedlens.hub.bundle import read_manifest

        read_manifest(path)
        engine = create_catalog_engine(sqlite_url(path / CATALOG_FILE, read_only=True, immutable=True),
                                       read_only=True)
        try:
            migrate.check_revision(engine, str(path))
        except Exception:
            engine.dispose()
            raise
        return cls(engine, BlobStore(path, read_only=True), location=str(path), read_only=True, is_bundle=True,
                   settings=settings)

    @classmethod
    def create(cls, url: str | os.PathLike[str] | None = None, store: str | None = None, *,
               storage_options: dict[str, Any] | None = None) -> LocalHub:
        """Create or upgrade a hub (see :meth:`Hub.init`)."""
        target = str(url) if url is not None else str(data_dir())
        if is_database_url(target):
            engine = create_catalog_engine(target)
            if store is None and engine.url.get_backend_name() == "sqlite" and engine.url.database:
                store = str(Path(engine.url.database).resolve()) + ".blobs"
            recorded = _recorded_store(engine) if store is None else None
            if store is None and recorded is None:
                engine.dispose()
                raise ConfigError(f"{_safe_url(target)}: a database hub needs --store URL (a folder or s3://...)")
            default_store = _absolute_store(store) if store is not None else str(recorded)
        else:
            folder = Path(target).expanduser().resolve()
            if (folder / MANIFEST).exists():
                raise ConfigError(f"{folder} is a bundle (read-only); bundles cannot be initialised as hubs")
            folder.mkdir(parents=True, exist_ok=True)
            target = str(folder)
            engine = create_catalog_engine(sqlite_url(folder / CATALOG_FILE))
            default_store = "." if store is None else _absolute_store(store)
        try:
            migrate.upgrade(engine)
            with session_factory(engine)() as session:
                existing = {row.key: row.value for row in session.scalars(select(HubInfo))}
                recorded = existing.get("store_url")
                if store is not None and recorded is not None and recorded != default_store:
                    raise ConfigError(f"hub {_safe_url(target)} already uses store {recorded!r}; got --store {store!r}")
                defaults = {"format": "seedlens-hub", "hub_id": uuid.uuid4().hex, "store_url": default_store,
                            "created_with": __version__}
                for key, value in defaults.items():
                    if key not in existing:
                        session.add(HubInfo(key=key, value=value))
                session.commit()
        finally:
            engine.dispose()
        return cls.from_location(target, storage_options=storage_options)

    def close(self) -> None:
        """Dispose of the catalog's connections."""
        self.engine.dispose()

    # ---- plumbing --------------------------------------------------------------------------------

    @contextmanager
    def session(self) -> Iterator[Session]:
        """Yield a session that commits on success and rolls back on error."""
        with self._sessions() as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    def check_writable(self) -> None:
        """Raise :class:`ReadOnlyHubError` if the hub is read-only."""
        if self.read_only:
            what = "a bundle (read-only)" if self.is_bundle else "opened read-only"
            raise ReadOnlyHubError(f"hub {self.location} is {what}; writes are refused")

    def hub_info(self) -> dict[str, str]:
        """Return the key/value facts recorded in the catalog (store URL, hub id...)."""
        return _info(self.engine)

    # ---- reading ---------------------------------------------------------------------------------

    def info(self) -> HubInfoOut:
        """Return counts, projects and fields."""
        with self.session() as session:
            return HubInfoOut(
                version=__version__, read_only=self.read_only, bundle=self.is_bundle,
                samples=int(session.scalar(select(func.count(Sample.id))) or 0),
                acquisitions=int(session.scalar(select(func.count(Acquisition.id))) or 0),
                projects=list(session.scalars(select(Project.name).order_by(Project.name))),
                fields=queries.fields(session),
            )

    def fields(self) -> list[FieldOut]:
        """Return the fields usable in ``where`` expressions."""
        with self.session() as session:
            return queries.fields(session)

    def iter_samples(self, where: str | None = None, *, project: str | None = None,
                     page_size: int = 500) -> Iterator[SampleOut]:
        """Yield matching samples page by page (see :meth:`Hub.iter_samples`)."""
        cursor: str | None = None
        while True:
            with self.session() as session:
                page, cursor = queries.page_views(session, where, project, page_size, cursor)
            yield from page
            if cursor is None:
                return

    def count(self, where: str | None = None, *, project: str | None = None) -> int:
        """Return how many samples match."""
        with self.session() as session:
            return queries.count_samples(session, where, project)

    def sample(self, sample_id: str, *, project: str | None = None) -> SampleOut:
        """Return one sample (see :meth:`Hub.sample`)."""
        with self.session() as session:
            return queries.get_view(session, sample_id, project)

    def fetch_blob(self, digest: str, dest: str | Path) -> Path:
        """Copy a blob to ``dest`` (verified, atomic)."""
        return self.store.get_file(digest, dest)

    def models(self) -> list[ModelOut]:
        """Return the registered models, oldest first."""
        with self.session() as session:
            return [model_out(m) for m in session.scalars(select(Model).order_by(Model.id))]

    def model(self, uid: str) -> ModelOut:
        """Return one model by uid."""
        with self.session() as session:
            return model_out(_model_row(session, uid))

    def predictions(self, model: str | ModelOut | None = None, *, where: str | None = None,
                    project: str | None = None) -> list[PredictionOut]:
        """Return stored predictions (see :meth:`Hub.predictions`)."""
        with self.session() as session:
            query = select(Prediction).options(
                selectinload(Prediction.model), selectinload(Prediction.sample), selectinload(Prediction.acquisition)
            ).order_by(Prediction.id)
            if model is not None:
                uid = model.uid if isinstance(model, ModelOut) else model
                query = query.where(Prediction.model_pk == _model_row(session, uid).id)
            conditions = queries.sample_filter(session, where, project)
            if conditions:
                query = query.where(Prediction.sample_pk.in_(select(Sample.id).where(*conditions)))
            return [prediction_out(p) for p in session.scalars(query)]

    # ---- writing ---------------------------------------------------------------------------------

    def put_blob_bytes(self, data: bytes) -> BlobOut:
        """Store raw bytes as a blob."""
        self.check_writable()
        stored = self.store.put_bytes(data)
        return BlobOut(blob=stored.digest, size=stored.size, created=stored.created)

    def put_blob_file(self, path: str | Path, *, move: bool = False) -> BlobOut:
        """Store a local file as a blob (``move`` lets the store take the file instead of copying it)."""
        self.check_writable()
        stored = self.store.put_file(path, move=move)
        return BlobOut(blob=stored.digest, size=stored.size, created=stored.created)

    def register_model(self, config: dict[str, Any], metrics: dict[str, Any] | None = None, query: str | None = None,
                       data_hash: str | None = None, *, name: str | None = None,
                       modality: str | None = None) -> ModelOut:
        """Record a trained model (see :meth:`Hub.register_model`)."""
        self.check_writable()
        json.dumps(config), json.dumps(metrics or {})  # fail early on non-JSON values
        with self.session() as session:
            row = Model(uid=uuid.uuid4().hex, name=name, modality=modality, config=config, metrics=metrics or {},
                        query=query, data_hash=data_hash)
            session.add(row)
            session.flush()
            return model_out(row)

    def _write_prediction_batch(self, uid: str, items: Sequence[PredictionIn], project: str | None) -> int:
        self.check_writable()
        with self.session() as session:
            model = _model_row(session, uid)
            ids = sorted({item.sample_id for item in items})
            query = select(Sample).where(Sample.sample_id.in_(ids)).options(selectinload(Sample.acquisitions))
            if project is not None:
                query = query.where(Sample.project_id.in_(select(Project.id).where(Project.name == project)))
            by_id: dict[str, Sample] = {}
            for sample in session.scalars(query):
                if sample.sample_id in by_id:
                    raise NotFoundError(f"sample id {sample.sample_id!r} exists in several projects; pass project=")
                by_id[sample.sample_id] = sample
            missing = [i for i in ids if i not in by_id]
            if missing:
                raise NotFoundError(f"{len(missing)} unknown sample id(s): {', '.join(missing[:10])}")
            for digest in {item.heatmap for item in items if item.heatmap}:
                if not self.store.exists(digest):
                    raise NotFoundError(f"heatmap blob {digest} is not in the store; upload it first")
            existing = {p.sample_pk: p for p in session.scalars(select(Prediction).where(
                Prediction.model_pk == model.id, Prediction.sample_pk.in_([s.id for s in by_id.values()])))}
            for item in items:
                sample = by_id[item.sample_id]
                acquisition = _pick_acquisition(sample, item.blob, model.modality)
                row = existing.get(sample.id)
                if row is None:
                    row = Prediction(model_pk=model.id, sample_pk=sample.id, score=item.score)
                    session.add(row)
                    existing[sample.id] = row
                row.score, row.heatmap_hash = item.score, item.heatmap
                row.acquisition_pk = acquisition.id if acquisition is not None else None
            return len(items)

    def bundle(self, out: str | Path, where: str | None = None, *, project: str | None = None) -> Path:
        """Compile matching samples into a bundle (see :meth:`Hub.bundle`)."""
        from seedlens.hub.bundle import create_bundle

        return create_bundle(self, Path(out), where, project=project)

    def import_dir(self, folder: str | Path, modality: str, *, labels: str | Path | None = None,
                   id_pattern: str | None = None, project: str = "default", keep_phi: bool = False,
                   progress: Callable[[str], None] | None = None, split_seeds: bool = False,
                   split_options: dict[str, Any] | None = None) -> ImportReport:
        """Import every file under ``folder`` (``seedlens hub import``).

        Args:
            folder: Folder of scans (any format ``seedlens.io.read`` knows; DICOM series folders).
            modality: ``image``, ``volume``, ``cube`` or ``table``.
            labels: CSV with a ``sample_id`` column (see :mod:`seedlens.hub.labels`).
            id_pattern: Regex taking the sample id from each relative path (group ``id`` or 1).
            project: Project the samples belong to.
            keep_phi: Store DICOM files as they are instead of de-identified.
            progress: Called with short progress messages.
            split_seeds: Also split every CT scan into grains, each its own sample (``<id>-g01``...) linked to
                the scan, with its morphometric traits (:mod:`seedlens.hub.seed_split`).
            split_options: Options of :func:`seedlens.seeds.split_volume` (``threshold``, ``grain_size``...).

        Returns:
            Counts of what was added and warnings (ids without files, files without ids).

        Raises:
            HubImportError: unreadable/corrupt/unknown files or bad names; nothing was stored.
            LabelsError: the labels CSV is malformed; nothing was stored.
        """
        from seedlens.hub.importer import import_folder

        return import_folder(self, folder, modality, labels=labels, id_pattern=id_pattern, project=project,
                             keep_phi=keep_phi, progress=progress, split_seeds=split_seeds,
                             split_options=split_options)

    def add_file(self, path: str | Path, *, sample_id: str, modality: str, project: str = "default",
                 source_name: str | None = None, keep_phi: bool = False,
                 parent: ParentLink | None = None) -> UploadOut:
        """Add one file (or a ``.tar`` of a multi-file form) as an acquisition of ``sample_id``.

        ``parent`` records that the acquisition was cut out of another one (a grain out of an ear's scan):
        ``ParentLink(sample_id, blob, region, centroid)`` from :mod:`seedlens.hub.provenance`.

        Raises:
            HubImportError: the file cannot be read as ``modality``; nothing was stored.
        """
        from seedlens.hub.importer import import_file

        return import_file(self, Path(path), sample_id=sample_id, modality=modality, project=project,
                           source_name=source_name, keep_phi=keep_phi, parent=parent)

    def upsert_sample(self, sample_id: str, data: SampleIn, *, project: str = "default") -> SampleOut:
        """Create or update a sample's fields, tags (replaced when given) and traits (None removes one)."""
        from seedlens.hub.catalog.models import Tag
        from seedlens.hub.importer import set_trait

        self.check_writable()
        sample_id = names.check_sample_id(sample_id)
        project = names.check_project(project)
        with self.session() as session:
            proj = session.scalar(select(Project).where(Project.name == project))
            if proj is None:
                proj = Project(name=project)
                session.add(proj)
                session.flush()
            sample = session.scalar(select(Sample).where(Sample.project_id == proj.id, Sample.sample_id == sample_id))
            if sample is None:
                sample = Sample(project_id=proj.id, sample_id=sample_id)
                session.add(sample)
                session.flush()
            for key in ("species", "genotype", "lot", "harvest", "split", "germination"):
                value = getattr(data, key)
                if value is not None:
                    setattr(sample, key, value)
            if data.tags is not None:
                for tag in list(sample.tags):
                    if tag.tag not in data.tags:
                        session.delete(tag)
                have = {t.tag for t in sample.tags}
                for tag_name in data.tags:
                    if tag_name not in have:
                        session.add(Tag(sample_pk=sample.id, tag=tag_name))
            for name, value in (data.traits or {}).items():
                set_trait(session, sample.id, name, value)
            session.flush()
            session.expire(sample)
            return queries.get_view(session, sample_id, project)

    def split(self, by: str, ratios: str | Sequence[float], *, seed: int = 0, where: str | None = None,
              project: str | None = None, names: Sequence[str] | None = None) -> SplitReport:
        """Assign grouped splits (``seedlens hub split``); see :mod:`seedlens.hub.splits`.

        Args:
            by: Field whose value groups samples (``lot``, a trait such as ``patient``...).
            ratios: ``"60,20,20"`` or fractions.
            seed: Shuffle seed.
            where: Only split matching samples.
            project: Only split this project.
            names: Split names (default train/val/test).

        Raises:
            ExprError: ``by`` is not a single-valued field.
        """
        from seedlens.hub.splits import apply_split

        return apply_split(self, by, ratios, seed=seed, where=where, project=project, names=names)

    # ---- tokens ----------------------------------------------------------------------------------

    def create_token(self, name: str, scope: str = "read") -> tuple[TokenOut, str]:
        """Create an API token; return its record and the token text (shown once)."""
        self.check_writable()
        with self.session() as session:
            info, token = tokens.create_token(session, name, scope)
            return TokenOut(name=info.name, scope=info.scope, created_at=info.created_at), token

    def revoke_token(self, name: str) -> TokenOut:
        """Revoke an API token by name."""
        self.check_writable()
        with self.session() as session:
            info = tokens.revoke_token(session, name)
            return TokenOut(name=info.name, scope=info.scope, created_at=info.created_at, revoked=True)

    def tokens(self) -> list[TokenOut]:
        """Return every token's name, scope and state."""
        with self.session() as session:
            return [TokenOut(name=t.name, scope=t.scope, created_at=t.created_at, revoked=t.revoked)
                    for t in tokens.list_tokens(session)]

    def authenticate(self, token: str) -> TokenInfo | None:
        """Return the token's info if valid and not revoked (bundles hold no tokens: always None)."""
        if self.is_bundle:
            return None
        with self.session() as session:
            return tokens.authenticate(session, token)

    # ---- integrity -------------------------------------------------------------------------------

    def verify(self) -> VerifyReport:
        """Re-hash every blob and check the catalog against the store (``seedlens hub verify``)."""
        from seedlens.hub.verify import verify_hub

        return verify_hub(self)

    def merge(self, source: str | Path | LocalHub) -> MergeReport:
        """Merge a bundle or another local hub into this hub without duplicates (``seedlens hub merge``)."""
        from seedlens.hub.merge import merge_into

        return merge_into(self, source)


def _info(engine: Engine) -> dict[str, str]:
    with session_factory(engine)() as session:
        return {row.key: row.value for row in session.scalars(select(HubInfo))}


def _recorded_store(engine: Engine) -> str | None:
    """The store URL an existing catalog records, or None (no catalog yet, or unreachable)."""
    from sqlalchemy import inspect

    try:
        if not inspect(engine).has_table("hub_info"):
            return None
        return _info(engine).get("store_url")
    except Exception:
        return None


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<database url>"


def _absolute_store(store: str) -> str:
    if "://" in store:
        return store
    return str(Path(store).expanduser().resolve())


def _model_row(session: Session, uid: str) -> Model:
    row = session.scalar(select(Model).where(Model.uid == uid))
    if row is None:
        raise NotFoundError(f"no model with uid {uid!r}")
    return row


def _pick_acquisition(sample: Sample, blob: str | None, modality: str | None) -> Acquisition | None:
    if blob is not None:
        for acquisition in sample.acquisitions:
            if acquisition.blob_hash == blob:
                return acquisition
        raise NotFoundError(f"sample {sample.sample_id!r} has no acquisition with blob {blob}")
    matching = [a for a in sample.acquisitions if modality is None or a.modality == modality]
    return matching[-1] if matching else None
