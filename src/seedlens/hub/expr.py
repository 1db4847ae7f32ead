r"""The ``--where`` expression language shared by the CLI, the REST API (``?where=``) and bundles.

Grammar (keywords are case-insensitive)::

    expr       := and_expr ("or" and_expr)*
    and_expr   := unary ("and" unary)*
    unary      := "not" unary | "(" expr ")" | comparison
    comparison := FIELD OP value
                | FIELD ["not"] "in" "(" value ("," value)* ")"       # "[...]" works too
                | FIELD "contains" STRING                             # case-insensitive substring
    OP         := "=" | "==" | "!=" | "<" | "<=" | ">" | ">="
    value      := NUMBER | STRING | "null"
    FIELD      := [A-Za-z_][A-Za-z0-9_]*
    STRING     := '"' ... '"' | "'" ... "'"    (backslash escapes \\ \" \' \n \t)

Examples: ``species = "wheat" and lot in ("L1", "L2")``, ``oil_content >= 41.5 or tag = "outlier"``,
``not (germination = "normal") and modality = "volume"``.

This module only parses text into a small syntax tree; :mod:`seedlens.hub.catalog.where` turns the tree
into SQLAlchemy expressions with bound parameters (never SQL text). Every error is an
:class:`~seedlens.hub.errors.ExprError` carrying the position and a caret line.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Literal, TypeAlias

from seedlens.hub.errors import ExprError

MAX_LENGTH = 8192
MAX_DEPTH = 32
MAX_LIST = 1000
MAX_TERMS = 256

OPERATORS = ("=", "!=", "<", "<=", ">", ">=", "in", "not in", "contains")
KEYWORDS = frozenset({"and", "or", "not", "in", "contains", "null"})

_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ESCAPES = {"\\": "\\", '"': '"', "'": "'", "n": "\n", "t": "\t"}

TokenKind = Literal["ident", "number", "string", "op", "(", ")", "[", "]", ",", "end"]


@dataclass(frozen=True)
class Token:
    """One lexical token: its kind, value, and start/end offsets in the text."""

    kind: TokenKind
    value: str | float
    pos: int
    end: int

    @property
    def keyword(self) -> str | None:
        """The lower-cased keyword if this is a keyword identifier, else None."""
        if self.kind == "ident" and str(self.value).lower() in KEYWORDS:
            return str(self.value).lower()
        return None


@dataclass(frozen=True)
class Value:
    """A literal: ``kind`` is ``num``, ``str`` or ``null``; ``text`` is how it was written (numbers)."""

    kind: Literal["num", "str", "null"]
    value: float | str | None
    text: str
    pos: int
    end: int


@dataclass(frozen=True)
class Comparison:
    """``field op value`` (``value`` is a tuple for ``in`` / ``not in``)."""

    field: str
    op: str
    value: Value | tuple[Value, ...]
    pos: int
    field_end: int


@dataclass(frozen=True)
class And:
    """All parts hold."""

    parts: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    """At least one part holds."""

    parts: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    """The part does not hold."""

    part: Node


Node: TypeAlias = Comparison | And | Or | Not


def tokenize(text: str) -> list[Token]:
    """Split ``text`` into tokens, ending with an ``end`` token.

    Raises:
        ExprError: an unterminated string, a bad character, or a number out of range.
    """
    if len(text) > MAX_LENGTH:
        raise ExprError(text[:200], 200, f"expression too long ({len(text)} characters; at most {MAX_LENGTH})")
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in " \t\r\n":
            i += 1
        elif ch in "()[],":
            tokens.append(Token(ch, ch, i, i + 1))  # type: ignore[arg-type]
            i += 1
        elif ch in "=!<>":
            two = text[i : i + 2]
            if two in ("==", "!=", "<=", ">="):
                tokens.append(Token("op", "=" if two == "==" else two, i, i + 2))
                i += 2
            elif ch == "!":
                raise ExprError(text, i, "'!' must be followed by '=' (not equal is '!=')")
            else:
                tokens.append(Token("op", ch, i, i + 1))
                i += 1
        elif ch in "\"'":
            value, end = _read_string(text, i)
            tokens.append(Token("string", value, i, end))
            i = end
        elif (match := _NUMBER.match(text, i)) and (ch.isdigit() or ch in "+-."):
            number = float(match.group())
            if not math.isfinite(number):
                raise ExprError(text, i, f"number {match.group()!r} is out of range", match.end() - i)
            tokens.append(Token("number", match.group(), i, match.end()))
            i = match.end()
        elif match := _IDENT.match(text, i):
            tokens.append(Token("ident", match.group(), i, match.end()))
            i = match.end()
        else:
            raise ExprError(text, i, f"unexpected character {ch!r}")
    tokens.append(Token("end", "", n, n))
    return tokens


def _read_string(text: str, start: int) -> tuple[str, int]:
    quote = text[start]
    out: list[str] = []
    i = start + 1
    while i < len(text):
        ch = text[i]
        if ch == quote:
            return "".join(out), i + 1
        if ch == "\\":
            nxt = text[i + 1 : i + 2]
            if nxt not in _ESCAPES:
                raise ExprError(text, i, f"unknown escape '\\{nxt}' in string (use \\\\, \\\", \\', \\n or \\t)", 2)
            out.append(_ESCAPES[nxt])
            i += 2
            continue
        if ch == "\x00" or "\ud800" <= ch <= "\udfff":
            raise ExprError(text, i, "strings cannot contain NUL or unpaired surrogate characters")
        out.append(ch)
        i += 1
    raise ExprError(text, start, f"unterminated string (missing closing {quote})")


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0
        self.terms = 0

    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def fail(self, problem: str, token: Token | None = None) -> ExprError:
        token = token or self.tok
        return ExprError(self.text, token.pos, problem, token.end - token.pos)

    def describe(self, token: Token) -> str:
        if token.kind == "end":
            return "end of expression"
        if token.kind == "string":
            return f"string {token.value!r}"
        return f"{token.value!r}"

    def advance(self) -> Token:
        token = self.tok
        self.i += 1
        return token

    def parse(self) -> Node:
        if self.tok.kind == "end":
            raise self.fail("empty expression: expected a comparison such as species = \"wheat\"")
        node = self.parse_or(0)
        if self.tok.kind != "end":
            raise self.fail(f"unexpected {self.describe(self.tok)}: expected 'and', 'or' or end of expression")
        return node

    def parse_or(self, depth: int) -> Node:
        parts = [self.parse_and(depth)]
        while self.tok.keyword == "or":
            self.advance()
            parts.append(self.parse_and(depth))
        return parts[0] if len(parts) == 1 else Or(tuple(parts))

    def parse_and(self, depth: int) -> Node:
        parts = [self.parse_unary(depth)]
        while self.tok.keyword == "and":
            self.advance()
            parts.append(self.parse_unary(depth))
        return parts[0] if len(parts) == 1 else And(tuple(parts))

    def parse_unary(self, depth: int) -> Node:
        if depth >= MAX_DEPTH:
            raise self.fail(f"expression nested too deeply (at most {MAX_DEPTH} levels)")
        if self.tok.keyword == "not":
            self.advance()
            return Not(self.parse_unary(depth + 1))
        if self.tok.kind == "(":
            opening = self.advance()
            node = self.parse_or(depth + 1)
            if self.tok.kind != ")":
                raise self.fail(f"expected ')' to close the '(' at column {opening.pos + 1}; "
                                f"got {self.describe(self.tok)}")
            self.advance()
            return node
        return self.parse_comparison()

    def parse_comparison(self) -> Comparison:
        field = self.tok
        if field.kind != "ident" or field.keyword is not None:
            raise self.fail(f"expected a field name; got {self.describe(field)}")
        self.advance()
        self.terms += 1
        if self.terms > MAX_TERMS:
            raise self.fail(f"too many comparisons (at most {MAX_TERMS})", field)
        name = str(field.value)
        op_token = self.tok
        if op_token.kind == "op":
            self.advance()
            return Comparison(name, str(op_token.value), self.parse_value(), field.pos, field.end)
        keyword = op_token.keyword
        if keyword == "not":
            self.advance()
            if self.tok.keyword != "in":
                raise self.fail(f"expected 'in' after 'not'; got {self.describe(self.tok)}")
            self.advance()
            return Comparison(name, "not in", self.parse_list(), field.pos, field.end)
        if keyword == "in":
            self.advance()
            return Comparison(name, "in", self.parse_list(), field.pos, field.end)
        if keyword == "contains":
            self.advance()
            value = self.parse_value()
            if value.kind != "str":
                raise ExprError(self.text, value.pos, "'contains' needs a quoted string", value.end - value.pos)
            return Comparison(name, "contains", value, field.pos, field.end)
        raise self.fail(f"expected an operator ({', '.join(OPERATORS)}) after {name!r}; got {self.describe(op_token)}")

    def parse_list(self) -> tuple[Value, ...]:
        opening = self.tok
        if opening.kind not in ("(", "["):
            raise self.fail(f"expected a list such as (\"a\", \"b\") after 'in'; got {self.describe(opening)}")
        closing = ")" if opening.kind == "(" else "]"
        self.advance()
        values = [self.parse_value()]
        while self.tok.kind == ",":
            self.advance()
            values.append(self.parse_value())
            if len(values) > MAX_LIST:
                raise self.fail(f"list too long (at most {MAX_LIST} values)")
        if self.tok.kind != closing:
            raise self.fail(f"expected ',' or '{closing}' in the list; got {self.describe(self.tok)}")
        self.advance()
        return tuple(values)

    def parse_value(self) -> Value:
        token = self.tok
        if token.kind == "number":
            self.advance()
            return Value("num", float(token.value), str(token.value), token.pos, token.end)
        if token.kind == "string":
            self.advance()
            return Value("str", str(token.value), str(token.value), token.pos, token.end)
        if token.keyword == "null":
            self.advance()
            return Value("null", None, "null", token.pos, token.end)
        if token.kind == "ident":
            raise self.fail(f"expected a number or a quoted string; got the bare word {token.value!r} "
                            f"(write \"{token.value}\" if you mean the text)")
        raise self.fail(f"expected a number or a quoted string; got {self.describe(token)}")


def parse(text: str) -> Node:
    """Parse ``text`` into a syntax tree.

    Args:
        text: The expression, e.g. ``species = "wheat" and oil_content > 40``.

    Returns:
        The root node (:class:`Comparison`, :class:`And`, :class:`Or` or :class:`Not`).

    Raises:
        ExprError: malformed expression; ``position`` and ``caret`` point at the problem.
    """
    if not isinstance(text, str):
        raise TypeError(f"expression must be a string; got {type(text).__name__}")
    return _Parser(text).parse()


def comparisons(node: Node) -> list[Comparison]:
    """Return every comparison in the tree, left to right."""
    if isinstance(node, Comparison):
        return [node]
    if isinstance(node, Not):
        return comparisons(node.part)
    return [c for part in node.parts for c in comparisons(part)]
