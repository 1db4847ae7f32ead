"""The catalog's tables as typed SQLAlchemy 2 ORM models.

These are storage models only: the REST API and the Python facade return the pydantic schemas in
:mod:`seedlens.hub.schemas`, so no internal column (primary keys, token hashes) leaks out.
Every column used by ``--where`` filters is indexed (see ``bench/hub_catalog.py``).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

#: Primary keys: BIGINT on PostgreSQL (1M+ rows), INTEGER on SQLite (so it stays the rowid alias).
PK = BigInteger().with_variant(Integer(), "sqlite")


def utcnow() -> datetime:
    """Return the current UTC time (timezone-aware)."""
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    """Declarative base with a naming convention, so migrations name constraints the same everywhere."""

    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}  # noqa: RUF012 - SQLAlchemy's API


class HubInfo(Base):
    """Key/value facts about the hub itself (store URL, hub id, creation time)."""

    __tablename__ = "hub_info"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class Project(Base):
    """A named group of samples; sample ids are unique within a project."""

    __tablename__ = "projects"

    id: Mapped[int] = mapped_column(PK, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Sample(Base):
    """One physical sample (a seed, a patient scan...) with its labels."""

    __tablename__ = "samples"
    __table_args__ = (UniqueConstraint("project_id", "sample_id"),)

    id: Mapped[int] = mapped_column(PK, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    sample_id: Mapped[str] = mapped_column(String(255), index=True)
    species: Mapped[str | None] = mapped_column(String(255), index=True)
    genotype: Mapped[str | None] = mapped_column(String(255), index=True)
    lot: Mapped[str | None] = mapped_column(String(255), index=True)
    harvest: Mapped[str | None] = mapped_column(String(255), index=True)
    split: Mapped[str | None] = mapped_column(String(64), index=True)
    germination: Mapped[str | None] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    project: Mapped[Project] = relationship(lazy="joined", innerjoin=True)
    acquisitions: Mapped[list[Acquisition]] = relationship(
        back_populates="sample", cascade="all, delete-orphan", order_by="Acquisition.id"
    )
    traits: Mapped[list[Trait]] = relationship(cascade="all, delete-orphan", order_by="Trait.name")
    tags: Mapped[list[Tag]] = relationship(cascade="all, delete-orphan", order_by="Tag.tag")


class Acquisition(Base):
    """One scan of a sample: which modality, which blob, and the array's metadata.

    ``blob_kind`` is ``file`` (the original file's bytes; ``suffix`` keeps its extension) or ``tar``
    (a deterministic tar of a multi-file form such as a DICOM series folder or an ENVI header + data
    file; ``entry`` is the path inside it that ``seedlens.io.read`` opens, ``""`` for the folder itself).

    A derived acquisition (a grain cut out of a scan of the whole ear, see :mod:`seedlens.hub.provenance`)
    names its parent by natural keys: ``parent_sample_id`` (a sample id in the same project) and
    ``parent_blob`` (the parent acquisition's blob hash), with ``region`` (``[[start, stop], ...]`` in the
    parent's voxels) and ``centroid``. No foreign key, so bundles and merges keep the link as it is.
    """

    __tablename__ = "acquisitions"
    __table_args__ = (
        UniqueConstraint("sample_pk", "modality", "blob_hash"),
        Index("ix_acquisitions_modality_sample_pk", "modality", "sample_pk"),
    )

    id: Mapped[int] = mapped_column(PK, primary_key=True)
    sample_pk: Mapped[int] = mapped_column(ForeignKey("samples.id", ondelete="CASCADE"), index=True)
    modality: Mapped[str] = mapped_column(String(16))
    blob_hash: Mapped[str] = mapped_column(String(64), index=True)
    blob_kind: Mapped[str] = mapped_column(String(8), default="file")
    suffix: Mapped[str] = mapped_column(String(32), default="")
    entry: Mapped[str] = mapped_column(String(255), default="")
    source_name: Mapped[str] = mapped_column(Text, default="")
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    shape: Mapped[list[Any]] = mapped_column(default=list)
    dtype: Mapped[str] = mapped_column(String(32), default="")
    spacing: Mapped[list[Any] | None] = mapped_column(default=None)
    wavelengths: Mapped[list[Any] | None] = mapped_column(default=None)
    device: Mapped[str | None] = mapped_column(String(255), default=None)
    parent_sample_id: Mapped[str | None] = mapped_column(String(255), default=None, index=True)
    parent_blob: Mapped[str | None] = mapped_column(String(64), default=None)
    region: Mapped[list[Any] | None] = mapped_column(default=None)
    centroid: Mapped[list[Any] | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    sample: Mapped[Sample] = relationship(back_populates="acquisitions")


class TraitDef(Base):
    """A trait name and its kind (``num`` or ``text``); one row per name, so listing names is cheap."""

    __tablename__ = "trait_defs"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))


class Trait(Base):
    """The value of one trait of one sample (numeric or text, by the trait's kind)."""

    __tablename__ = "traits"
    __table_args__ = (  # covering: a trait filter is answered from the index alone
        Index("ix_traits_name_num_value_sample_pk", "name", "num_value", "sample_pk"),
        Index("ix_traits_name_text_value_sample_pk", "name", "text_value", "sample_pk"),
    )

    sample_pk: Mapped[int] = mapped_column(ForeignKey("samples.id", ondelete="CASCADE"), primary_key=True)
    name: Mapped[str] = mapped_column(ForeignKey("trait_defs.name"), primary_key=True)
    num_value: Mapped[float | None] = mapped_column(Float, default=None)
    text_value: Mapped[str | None] = mapped_column(String(1024), default=None)

    @property
    def value(self) -> float | str | None:
        """The numeric or text value, whichever is set."""
        return self.num_value if self.num_value is not None else self.text_value


class Tag(Base):
    """A free tag on a sample."""

    __tablename__ = "tags"
    __table_args__ = (Index("ix_tags_tag_sample_pk", "tag", "sample_pk"),)

    sample_pk: Mapped[int] = mapped_column(ForeignKey("samples.id", ondelete="CASCADE"), primary_key=True)
    tag: Mapped[str] = mapped_column(String(128), primary_key=True)


class Model(Base):
    """A trained model: its config and metrics, and the query and data hash it was trained on."""

    __tablename__ = "models"

    id: Mapped[int] = mapped_column(PK, primary_key=True)
    uid: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str | None] = mapped_column(String(255), default=None)
    modality: Mapped[str | None] = mapped_column(String(16), default=None)
    config: Mapped[dict[str, Any]] = mapped_column(default=dict)
    metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)
    query: Mapped[str | None] = mapped_column(Text, default=None)
    data_hash: Mapped[str | None] = mapped_column(String(64), default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Prediction(Base):
    """A model's score (higher = more anomalous) and optional heatmap blob for one sample."""

    __tablename__ = "predictions"
    __table_args__ = (UniqueConstraint("model_pk", "sample_pk"),)

    id: Mapped[int] = mapped_column(PK, primary_key=True)
    model_pk: Mapped[int] = mapped_column(ForeignKey("models.id", ondelete="CASCADE"), index=True)
    sample_pk: Mapped[int] = mapped_column(ForeignKey("samples.id", ondelete="CASCADE"), index=True)
    acquisition_pk: Mapped[int | None] = mapped_column(
        ForeignKey("acquisitions.id", ondelete="SET NULL"), default=None, index=True
    )
    score: Mapped[float] = mapped_column(Float)
    heatmap_hash: Mapped[str | None] = mapped_column(String(64), default=None, index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    model: Mapped[Model] = relationship()
    sample: Mapped[Sample] = relationship()
    acquisition: Mapped[Acquisition | None] = relationship()


class ApiToken(Base):
    """An API token: only the sha256 of its secret is stored."""

    __tablename__ = "tokens"

    id: Mapped[int] = mapped_column(PK, primary_key=True)
    key_id: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    scope: Mapped[str] = mapped_column(String(8))
    secret_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
