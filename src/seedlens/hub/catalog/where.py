"""Compile ``--where`` syntax trees (:mod:`seedlens.hub.expr`) into SQLAlchemy filters on ``Sample``.

Fields: the sample columns (``sample_id species genotype lot harvest split germination``), ``project``,
``modality``, ``tag`` and ``parent`` (multi-valued: ``=``/``in``/``contains`` mean "has one that matches",
``!=``/``not in`` mean "has none that matches"), and trait names (numeric traits compare numerically,
text traits as strings). ``!=`` keeps rows whose value is missing; ``field = null`` finds missing values.
``parent`` is the sample id an acquisition was cut out of (:mod:`seedlens.hub.provenance`):
``parent = "ear1"`` lists ear1's children, ``parent = null`` the samples with no derived acquisition.
Everything is bound as parameters; no user text reaches SQL.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import ColumnElement, and_, false, not_, or_, select, true
from sqlalchemy.orm import InstrumentedAttribute

from seedlens.hub.catalog.models import Acquisition, Project, Sample, Tag, Trait
from seedlens.hub.errors import ExprError
from seedlens.hub.expr import And, Comparison, Node, Not, Or, Value, parse
from seedlens.types import Modality

SAMPLE_COLUMNS: dict[str, InstrumentedAttribute[str] | InstrumentedAttribute[str | None]] = {
    "sample_id": Sample.sample_id,
    "species": Sample.species,
    "genotype": Sample.genotype,
    "lot": Sample.lot,
    "harvest": Sample.harvest,
    "split": Sample.split,
    "germination": Sample.germination,
}
MULTI_FIELDS = ("project", "modality", "tag", "parent")
RESERVED_FIELDS = frozenset({*SAMPLE_COLUMNS, *MULTI_FIELDS, "tags"})


def known_fields(trait_kinds: Mapping[str, str]) -> list[str]:
    """Return every field name a ``--where`` expression may use, given the trait names and kinds."""
    return [*SAMPLE_COLUMNS, *MULTI_FIELDS, *sorted(trait_kinds)]


def compile_where(text: str | Node, trait_kinds: Mapping[str, str], *,
                  source: str | None = None) -> ColumnElement[bool]:
    """Return a SQLAlchemy boolean expression on :class:`Sample` for an expression.

    Args:
        text: The expression text, or an already parsed tree (then pass ``source`` for error messages).
        trait_kinds: Trait name -> ``"num"`` or ``"text"`` (from the ``trait_defs`` table).
        source: The text the tree was parsed from.

    Raises:
        ExprError: bad syntax, an unknown field, or a value of the wrong kind for its field.
    """
    if isinstance(text, str):
        source, node = text, parse(text)
    else:
        node = text
    return _Compiler(source or "", trait_kinds).node(node)


class _Compiler:
    def __init__(self, text: str, trait_kinds: Mapping[str, str]) -> None:
        self.text = text
        self.traits = trait_kinds

    def node(self, node: Node) -> ColumnElement[bool]:
        if isinstance(node, And):
            return self.conjunction(node)
        if isinstance(node, Or):
            return or_(*(self.node(p) for p in node.parts))
        if isinstance(node, Not):
            return not_(self.node(node.part))
        return self.comparison(node)

    def conjunction(self, node: And) -> ColumnElement[bool]:
        """AND; positive comparisons of one trait share one subquery (``oil > 40 and oil < 45`` is a range)."""
        by_trait: dict[str, list[Comparison]] = {}
        conditions: list[ColumnElement[bool]] = []
        for part in node.parts:
            if isinstance(part, Comparison) and part.field in self.traits and _positive(part):
                by_trait.setdefault(part.field, []).append(part)
            else:
                conditions.append(self.node(part))
        for name, parts in by_trait.items():
            if len(parts) == 1:
                conditions.append(self.comparison(parts[0]))
            else:
                inner = [self.trait(p, self.traits[name], bare=True) for p in parts]
                conditions.append(Sample.id.in_(select(Trait.sample_pk).where(Trait.name == name, *inner)))
        return and_(*conditions)

    def error(self, at: Comparison | Value, problem: str) -> ExprError:
        if isinstance(at, Comparison):
            return ExprError(self.text, at.pos, problem, at.field_end - at.pos)
        return ExprError(self.text, at.pos, problem, at.end - at.pos)

    def comparison(self, c: Comparison) -> ColumnElement[bool]:
        if c.field in SAMPLE_COLUMNS:
            return self.scalar(c, SAMPLE_COLUMNS[c.field])
        if c.field == "project":
            return self.multi(c, lambda cond: Sample.project_id.in_(select(Project.id).where(cond)), Project.name)
        if c.field == "tag":
            return self.multi(c, lambda cond: Sample.id.in_(select(Tag.sample_pk).where(cond)), Tag.tag)
        if c.field == "modality":
            for value in self.values(c):
                text = value.text if value.kind == "num" else str(value.value)
                if value.kind != "null" and text.lower() not in {m.value for m in Modality}:
                    kinds = ", ".join(m.value for m in Modality)
                    raise self.error(value, f"unknown modality {text!r}; expected one of: {kinds}")
            return self.multi(
                c, lambda cond: Sample.id.in_(select(Acquisition.sample_pk).where(cond)), Acquisition.modality
            )
        if c.field == "parent":
            return self.multi(c, lambda cond: Sample.id.in_(select(Acquisition.sample_pk).where(cond)),
                              Acquisition.parent_sample_id)
        if c.field in self.traits:
            return self.trait(c, self.traits[c.field])
        known = known_fields(self.traits)
        close = difflib.get_close_matches(c.field, known, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise self.error(c, f"unknown field {c.field!r}{hint}; known fields: {', '.join(known)}")

    def values(self, c: Comparison) -> tuple[Value, ...]:
        return c.value if isinstance(c.value, tuple) else (c.value,)

    def text_value(self, c: Comparison, value: Value) -> str | None:
        if value.kind == "null":
            if c.op not in ("=", "!=", "in", "not in"):
                raise self.error(value, f"null can only be compared with =, !=, in or not in; got {c.op!r}")
            return None
        return str(value.value) if value.kind == "str" else value.text

    def scalar(self, c: Comparison, column: InstrumentedAttribute[str] | InstrumentedAttribute[str | None],
               ) -> ColumnElement[bool]:
        """A single-valued text column: lexicographic comparison, numbers compared as written."""
        if c.op in ("in", "not in"):
            items = [self.text_value(c, v) for v in self.values(c)]
            present = [v for v in items if v is not None]
            has_null = None in items
            if c.op == "in":
                cond = column.in_(present) if present else false()
                return or_(cond, column.is_(None)) if has_null else cond
            negated = not_(column.in_(present)) if present else true()
            return and_(negated, column.is_not(None)) if has_null else or_(negated, column.is_(None))
        assert isinstance(c.value, Value)
        value = self.text_value(c, c.value)
        if value is None:
            return column.is_(None) if c.op == "=" else column.is_not(None)
        if c.op == "contains":
            return column.icontains(value, autoescape=True)
        if c.op == "!=":
            return column.is_distinct_from(value)
        return {"=": column == value, "<": column < value, "<=": column <= value,
                ">": column > value, ">=": column >= value}[c.op]

    def multi(self, c: Comparison, wrap: Callable[[ColumnElement[bool]], ColumnElement[bool]],
              column: Any) -> ColumnElement[bool]:
        """A multi-valued field: ``wrap(cond)`` is true when some row matching ``cond`` exists."""
        if c.op in ("in", "not in"):
            items = [self.text_value(c, v) for v in self.values(c)]
            if None in items:
                raise self.error(c, f"{c.field} cannot be compared with null inside a list")
            wanted = [v.lower() if c.field == "modality" else v for v in items if v is not None]
            cond = wrap(column.in_(wanted))
            return cond if c.op == "in" else not_(cond)
        assert isinstance(c.value, Value)
        value = self.text_value(c, c.value)
        if value is None:  # the other multi fields' columns are never null; an acquisition's parent may be
            has_any = wrap(column.is_not(None) if c.field == "parent" else true())
            return not_(has_any) if c.op == "=" else has_any
        if c.field == "modality":
            value = value.lower()
        if c.op == "contains":
            return wrap(column.icontains(value, autoescape=True))
        if c.op == "!=":
            return not_(wrap(column == value))
        ops = {"=": column == value, "<": column < value, "<=": column <= value, ">": column > value,
               ">=": column >= value}
        return wrap(ops[c.op])

    def trait(self, c: Comparison, kind: str, *, bare: bool = False) -> ColumnElement[bool]:
        """A trait: the sample is among those whose trait row matches (``bare``: just the row condition)."""
        numeric = kind == "num"
        column = Trait.num_value if numeric else Trait.text_value

        def wrap(cond: ColumnElement[bool]) -> ColumnElement[bool]:
            if bare:
                return cond
            return Sample.id.in_(select(Trait.sample_pk).where(Trait.name == c.field, cond))

        def coerce(value: Value) -> float | str | None:
            if value.kind == "null":
                return None
            if numeric:
                if value.kind != "num":
                    raise self.error(value, f"trait {c.field!r} is numeric; got the string {value.value!r}")
                return float(value.value)  # type: ignore[arg-type]
            return str(value.value) if value.kind == "str" else value.text

        if c.op == "contains":
            if numeric:
                raise self.error(c, f"'contains' needs a text field; trait {c.field!r} is numeric")
            assert isinstance(c.value, Value)
            return wrap(column.icontains(str(c.value.value), autoescape=True))
        if c.op in ("in", "not in"):
            items = [coerce(v) for v in self.values(c)]
            if None in items:
                raise self.error(c, f"{c.field} cannot be compared with null inside a list")
            cond = wrap(column.in_(items))
            return cond if c.op == "in" else not_(cond)
        assert isinstance(c.value, Value)
        value = coerce(c.value)
        if value is None:
            if c.op not in ("=", "!="):
                raise self.error(c.value, f"null can only be compared with = or !=; got {c.op!r}")
            has = wrap(column.is_not(None))
            return not_(has) if c.op == "=" else has
        if c.op == "!=":
            return not_(wrap(column == value))
        ops = {"=": column == value, "<": column < value, "<=": column <= value, ">": column > value,
               ">=": column >= value}
        return wrap(ops[c.op])


def _positive(c: Comparison) -> bool:
    """True for comparisons that hold for the trait row itself (mergeable into one trait subquery)."""
    values = c.value if isinstance(c.value, tuple) else (c.value,)
    return c.op in ("=", "<", "<=", ">", ">=", "in", "contains") and all(v.kind != "null" for v in values)
