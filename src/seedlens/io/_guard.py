"""Turn third-party exceptions into seedlens' typed read errors that name the file."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from seedlens.errors import CorruptFileError, ReadError, SeedlensError


def describe(exc: BaseException) -> str:
    """``"TypeName: message"``, or just the type name when the message is empty."""
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


@contextmanager
def corrupt_on_error(path: Path, what: str) -> Iterator[None]:
    """Re-raise any non-seedlens exception as ``CorruptFileError(path, f"{what}: ...")``.

    A missing companion file (e.g. the ``.img`` of a ``.hdr`` pair) becomes a plain ``ReadError``,
    a permission problem too: neither means the file is corrupt.
    """
    try:
        yield
    except SeedlensError:
        raise
    except MemoryError:
        raise
    except FileNotFoundError as exc:
        raise ReadError(path, f"{what}: missing file {exc.filename or ''}".rstrip()) from exc
    except PermissionError as exc:
        raise ReadError(path, f"{what}: permission denied") from exc
    except Exception as exc:
        raise CorruptFileError(path, f"{what}: {describe(exc)}") from exc
