"""HTTP Range and conditional-request helpers for blob downloads (RFC 9110)."""

from __future__ import annotations

import re

_SPEC = re.compile(r"^\s*(\d*)\s*-\s*(\d*)\s*$")


class RangeNotSatisfiable(Exception):
    """The Range header asks only for bytes past the end (answer 416 with ``Content-Range: bytes */size``)."""


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """Return the inclusive byte range ``(first, last)`` a Range header asks for, or None to send everything.

    One range is honoured (``a-b``, ``a-``, suffix ``-n``); a malformed header or several ranges are
    ignored, as RFC 9110 allows.

    Raises:
        RangeNotSatisfiable: the range starts past the end, or is an empty suffix.
    """
    if not header:
        return None
    unit, _, specs = header.partition("=")
    if unit.strip().lower() != "bytes" or not specs or "," in specs:
        return None
    match = _SPEC.match(specs)
    if match is None:
        return None
    first_text, last_text = match.groups()
    if not first_text and not last_text:
        return None
    if len(first_text) > 19 or len(last_text) > 19:  # beyond any real size
        if first_text:
            raise RangeNotSatisfiable(header)
        return (0, size - 1) if size else None
    if not first_text:
        suffix = int(last_text)
        if suffix == 0 or size == 0:
            raise RangeNotSatisfiable(header)
        return max(0, size - suffix), size - 1
    first = int(first_text)
    last = int(last_text) if last_text else size - 1
    if last_text and last < first:
        return None
    if first >= size:
        raise RangeNotSatisfiable(header)
    return first, min(last, size - 1)


def etag_matches(header: str | None, etag: str) -> bool:
    """Return True if an If-None-Match header matches ``etag`` (weak comparison, ``*`` matches all)."""
    if not header:
        return False
    bare = etag.removeprefix("W/")
    for item in header.split(","):
        item = item.strip()
        if item == "*" or item.removeprefix("W/") == bare:
            return True
    return False
