"""Catalog queries shared by the Python facade and the REST API."""

from __future__ import annotations

import base64
import binascii

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm import Session, selectinload

from seedlens.hub.catalog.models import Project, Sample, TraitDef
from seedlens.hub.catalog.where import SAMPLE_COLUMNS, compile_where
from seedlens.hub.errors import InvalidNameError, NotFoundError
from seedlens.hub.schemas import FieldOut


def trait_kinds(session: Session) -> dict[str, str]:
    """Return trait name -> ``num``/``text``."""
    return dict(session.execute(select(TraitDef.name, TraitDef.kind)).all())


def fields(session: Session) -> list[FieldOut]:
    """Return every field usable in ``where`` expressions with its kind."""
    out = [FieldOut(name=name, kind="text") for name in SAMPLE_COLUMNS]
    out += [FieldOut(name=name, kind="multi") for name in ("project", "modality", "tag")]
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


def select_samples(session: Session, where: str | None = None, project: str | None = None) -> Select[Sample]:
    """Return a SELECT of matching samples ordered by insertion, with tags/traits/acquisitions eager-loaded."""
    return (
        select(Sample)
        .where(*sample_filter(session, where, project))
        .options(selectinload(Sample.tags), selectinload(Sample.traits), selectinload(Sample.acquisitions))
        .order_by(Sample.id)
    )


def page_samples(session: Session, where: str | None, project: str | None, limit: int,
                 cursor: str | None = None) -> tuple[list[Sample], str | None]:
    """Return one page of samples after ``cursor`` and the cursor of the next page (None at the end)."""
    query = select_samples(session, where, project)
    if cursor:
        query = query.where(Sample.id > decode_cursor(cursor))
    rows = list(session.scalars(query.limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, encode_cursor(rows[-1].id) if more and rows else None


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


def get_sample(session: Session, sample_id: str, project: str | None) -> Sample:
    """Return one sample by id (in ``project``, or the only project that has it).

    Raises:
        NotFoundError: no such sample, or the id exists in several projects and none was named.
    """
    query = select_samples(session, None, project).where(Sample.sample_id == sample_id)
    rows = list(session.scalars(query.limit(2)))
    if not rows:
        where = f" in project {project!r}" if project else ""
        raise NotFoundError(f"no sample {sample_id!r}{where}")
    if len(rows) > 1:
        raise NotFoundError(f"sample id {sample_id!r} exists in several projects; name the project")
    return rows[0]
