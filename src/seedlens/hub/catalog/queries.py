"""Catalog queries shared by the Python facade and the REST API."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from seedlens.hub.catalog.models import Acquisition, Project, Sample, Tag, Trait, TraitDef
from seedlens.hub.catalog.views import parent_out
from seedlens.hub.catalog.where import MULTI_FIELDS, SAMPLE_COLUMNS, compile_where
from seedlens.hub.errors import InvalidNameError, NotFoundError
from seedlens.hub.schemas import AcquisitionOut, FieldOut, SampleOut

SAMPLE_FIELD_NAMES = ("species", "genotype", "lot", "harvest", "split", "germination")
SAMPLE_FIELDS = [getattr(Sample, name) for name in SAMPLE_FIELD_NAMES]


def trait_kinds(session: Session) -> dict[str, str]:
    """Return trait name -> ``num``/``text``."""
    return dict(session.execute(select(TraitDef.name, TraitDef.kind)).all())


def fields(session: Session) -> list[FieldOut]:
    """Return every field usable in ``where`` expressions with its kind."""
    out = [FieldOut(name=name, kind="text") for name in SAMPLE_COLUMNS]
    out += [FieldOut(name=name, kind="multi") for name in MULTI_FIELDS]
    out += [FieldOut(name=name, kind="num" if kind == "num" else "text")
            for name, kind in sorted(trait_kinds(session).items())]
    return out


def sample_filter(session: Session, where: str | None, project: str | None) -> list[ColumnElement[bool]]:
    """Return the WHERE conditions for an expression and an optional project name."""
    conditions: list[ColumnElement[bool]] = []
    if where is not None and where.strip():
        conditions.append(compile_where(where, trait_kinds(session)))
    if project is not None:
        conditions.append(Sample.project_id.in_(select(Project.id).where(Project.name == project)))
    return conditions


def page_views(session: Session, where: str | None, project: str | None, limit: int,
               cursor: str | None = None) -> tuple[list[SampleOut], str | None]:
    """Return one page of matching samples in insertion order after ``cursor``, and the next page's cursor.

    Built from plain rows (no ORM objects) with three batched queries for tags, traits and acquisitions.
    """
    columns = [Sample.id, Project.name, Sample.sample_id, *SAMPLE_FIELDS]
    query = (select(*columns).join(Project, Project.id == Sample.project_id)
             .where(*sample_filter(session, where, project)).order_by(Sample.id))
    if cursor:
        query = query.where(Sample.id > decode_cursor(cursor))
    rows = session.execute(query.limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    return views_of(session, rows), encode_cursor(rows[-1][0]) if more and rows else None


def views_of(session: Session, rows: Sequence[Any]) -> list[SampleOut]:
    """Build sample views from ``(pk, project, sample_id, *SAMPLE_FIELDS)`` rows with three batched queries."""
    pks = [row[0] for row in rows]
    tags: dict[int, list[str]] = {pk: [] for pk in pks}
    traits: dict[int, dict[str, float | str]] = {pk: {} for pk in pks}
    acquisitions: dict[int, list[AcquisitionOut]] = {pk: [] for pk in pks}
    if pks:
        for pk, tag in session.execute(select(Tag.sample_pk, Tag.tag).where(Tag.sample_pk.in_(pks))
                                       .order_by(Tag.sample_pk, Tag.tag)):
            tags[pk].append(tag)
        for pk, name, num, text in session.execute(
                select(Trait.sample_pk, Trait.name, Trait.num_value, Trait.text_value)
                .where(Trait.sample_pk.in_(pks)).order_by(Trait.sample_pk, Trait.name)):
            value = num if num is not None else text
            if value is not None:
                traits[pk][name] = value
        acq = Acquisition
        for row in session.execute(
                select(acq.sample_pk, acq.modality, acq.blob_hash, acq.blob_kind, acq.suffix, acq.entry,
                       acq.source_name, acq.size, acq.shape, acq.dtype, acq.spacing, acq.wavelengths, acq.device,
                       acq.created_at, acq.parent_sample_id, acq.parent_blob, acq.region, acq.centroid)
                .where(acq.sample_pk.in_(pks)).order_by(acq.id)):
            acquisitions[row[0]].append(AcquisitionOut(
                modality=row[1], blob=row[2], kind=row[3], suffix=row[4], entry=row[5], source_name=row[6],
                size=row[7], shape=list(row[8] or []), dtype=row[9], spacing=row[10], wavelengths=row[11],
                device=row[12], created_at=row[13], parent=parent_out(row[14], row[15], row[16], row[17])))
    out = []
    for row in rows:
        pk = row[0]
        fields = dict(zip(SAMPLE_FIELD_NAMES, row[3:], strict=True))
        out.append(SampleOut(project=row[1], sample_id=row[2], **fields, tags=tags[pk], traits=traits[pk],
                             acquisitions=acquisitions[pk]))
    return out


def count_samples(session: Session, where: str | None, project: str | None) -> int:
    """Return how many samples match."""
    return int(session.scalar(select(func.count(Sample.id)).where(*sample_filter(session, where, project))) or 0)


def encode_cursor(pk: int) -> str:
    """Return an opaque page cursor for the sample key ``pk``."""
    return base64.urlsafe_b64encode(f"s{pk}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    """Return the sample key in a page cursor.

    Raises:
        InvalidNameError: the cursor is not one this hub issued.
    """
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        if not text.startswith("s"):
            raise ValueError(text)
        value = int(text[1:])
        if not 0 <= value < 2**62:
            raise ValueError(text)
        return value
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidNameError(f"invalid page cursor {cursor[:40]!r}") from None


def get_view(session: Session, sample_id: str, project: str | None) -> SampleOut:
    """Return the view of one sample (see :func:`get_sample`)."""
    sample = get_sample(session, sample_id, project)
    row = (sample.id, sample.project.name, sample.sample_id, *(getattr(sample, f) for f in SAMPLE_FIELD_NAMES))
    return views_of(session, [row])[0]


def get_sample(session: Session, sample_id: str, project: str | None) -> Sample:
    """Return one sample by id (in ``project``, or the only project that has it).

    Raises:
        NotFoundError: no such sample, or the id exists in several projects and none was named.
    """
    query = select(Sample).where(*sample_filter(session, None, project), Sample.sample_id == sample_id)
    rows = list(session.scalars(query.order_by(Sample.id).limit(2)))
    if not rows:
        where = f" in project {project!r}" if project else ""
        raise NotFoundError(f"no sample {sample_id!r}{where}")
    if len(rows) > 1:
        raise NotFoundError(f"sample id {sample_id!r} exists in several projects; name the project")
    return rows[0]
