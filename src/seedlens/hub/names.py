r"""Validation of every name that reaches the hub from outside (ids, tags, trait names, file names).

A name that could act as a path (``..``, ``/``, ``\\``), carries control characters or non-UTF-8 bytes
(surrogate escapes), or is too long is rejected with :class:`~seedlens.hub.errors.InvalidNameError`.
"""

from __future__ import annotations

import re
import unicodedata

from seedlens.hub.errors import InvalidNameError

GERMINATION = ("normal", "abnormal", "dead")
_TRAIT = re.compile(r"^[a-z_][a-z0-9_]{0,63}$")
_SPLIT = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


def has_bad_chars(text: str) -> bool:
    """Return True if ``text`` has control characters or surrogates (undecodable bytes of a file name)."""
    return any(unicodedata.category(ch) in ("Cc", "Cs") or ch in "\u2028\u2029" for ch in text)


def check_label(value: str, what: str, max_len: int = 255) -> str:
    """Return ``value`` stripped if it is a safe free-text label (species, lot, tag...), else raise."""
    if not isinstance(value, str):
        raise InvalidNameError(f"{what} must be text; got {type(value).__name__}")
    value = value.strip()
    if not value:
        raise InvalidNameError(f"{what} is empty")
    if len(value) > max_len:
        raise InvalidNameError(f"{what} is too long ({len(value)} characters; at most {max_len}): {value[:40]!r}...")
    if has_bad_chars(value):
        raise InvalidNameError(f"{what} {value!r} contains control characters or bytes that are not UTF-8")
    return value


def check_sample_id(value: str, what: str = "sample id") -> str:
    """Return a safe sample id (no path separators, not ``.``/``..``, ≤ 255 characters), else raise."""
    value = check_label(value, what)
    if "/" in value or "\\" in value or value in (".", ".."):
        raise InvalidNameError(f"{what} {value!r} must not contain '/' or '\\' or be '.' or '..'")
    return value


def check_project(value: str) -> str:
    """Return a safe project name (like a sample id, ≤ 128 characters)."""
    value = check_sample_id(value, "project name")
    if len(value) > 128:
        raise InvalidNameError(f"project name is too long ({len(value)} characters; at most 128)")
    return value


def check_tag(value: str) -> str:
    """Return a safe tag (≤ 128 characters)."""
    return check_label(value, "tag", 128)


def normalize_trait_name(raw: str) -> str:
    """Turn a CSV column header into a trait name: lower case, spaces and dashes become ``_``.

    Raises:
        InvalidNameError: the result is not ``[a-z_][a-z0-9_]*`` (≤ 64 characters) or is reserved.
    """
    from seedlens.hub.catalog.where import RESERVED_FIELDS

    name = re.sub(r"[\s\-.]+", "_", str(raw).strip().lower())
    if not _TRAIT.match(name):
        raise InvalidNameError(
            f"column {raw!r} cannot be a trait name: use letters, digits and '_' (≤ 64 characters, not starting "
            "with a digit)"
        )
    if name in RESERVED_FIELDS:
        raise InvalidNameError(f"trait name {name!r} is reserved (it is a sample field)")
    return name


def check_germination(value: str) -> str:
    """Return the germination class in lower case; it must be normal, abnormal or dead."""
    low = str(value).strip().lower()
    if low not in GERMINATION:
        raise InvalidNameError(f"germination must be one of {', '.join(GERMINATION)}; got {value!r}")
    return low


def check_split(value: str) -> str:
    """Return a split name in lower case (``train``, ``val``, ``test``, or another short identifier)."""
    low = str(value).strip().lower()
    if not _SPLIT.match(low):
        raise InvalidNameError(f"invalid split name {value!r}: use letters, digits, '_' or '-' (≤ 64 characters)")
    return low


def check_filename(value: str) -> str:
    """Return a safe bare file name (no folders, no traversal, no control characters), else raise."""
    value = check_label(value, "file name")
    if "/" in value or "\\" in value or value in (".", "..") or value.startswith("."):
        raise InvalidNameError(f"file name {value!r} must be a bare name without '/', '\\' or a leading '.'")
    return value


def check_member_path(value: str) -> str:
    """Return a safe relative path inside an archive (no absolute paths, no ``..``), else raise."""
    if has_bad_chars(value):
        raise InvalidNameError(f"archive member {value!r} has control characters or bytes that are not UTF-8")
    parts = value.replace("\\", "/").split("/")
    if value.startswith(("/", "\\")) or ".." in parts or (len(value) > 1 and value[1] == ":"):
        raise InvalidNameError(f"archive member {value!r} escapes its folder")
    clean = "/".join(p for p in parts if p not in ("", "."))
    if not clean:
        raise InvalidNameError(f"archive member {value!r} has an empty name")
    return clean
