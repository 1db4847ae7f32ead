"""Engines and sessions for the catalog. Nothing here runs at import time: callers create engines."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from seedlens.errors import ConfigError

CATALOG_FILE = "catalog.sqlite"


def is_database_url(target: str) -> bool:
    """Return True if ``target`` looks like an SQLAlchemy database URL (``dialect[+driver]://``)."""
    head = target.split("://", 1)[0] if "://" in target else ""
    return head.split("+", 1)[0] in {"sqlite", "postgresql", "postgres"}


def sqlite_url(path: str | Path, *, read_only: bool = False, immutable: bool = False) -> str:
    """Return the SQLAlchemy URL of the SQLite file ``path`` (read-only URLs use SQLite's URI form)."""
    path = Path(path).resolve()
    if not read_only:
        return f"sqlite:///{path}"
    flags = "mode=ro&immutable=1" if immutable else "mode=ro"
    return f"sqlite:///file:{path.as_posix()}?{flags}&uri=true"


def create_catalog_engine(url: str, *, read_only: bool = False, wal: bool = True) -> Engine:
    """Create an engine for the catalog at ``url``.

    SQLite connections get foreign keys on, a busy timeout and (for writable files) WAL journaling,
    so a killed writer never leaves a half-applied transaction. PostgreSQL gets a small connection
    pool with pre-ping.

    Args:
        url: SQLAlchemy URL (``sqlite:///...`` or ``postgresql+psycopg://...``).
        read_only: Open SQLite without writing anything (the URL must then be a ``mode=ro`` URI).
        wal: Use SQLite's write-ahead log (False for bundle catalogs, which must stay one file).

    Raises:
        ConfigError: the URL is not a supported database URL.
    """
    try:
        parsed = make_url(url)
    except Exception as err:  # sqlalchemy raises ArgumentError with a terse message
        raise ConfigError(f"not a database URL: {url!r} ({err})") from err
    backend = parsed.get_backend_name()
    kwargs: dict[str, Any] = {}
    if backend == "sqlite":
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
    elif backend == "postgresql":
        # no server-side prepared statements: ad-hoc filters get plans for their actual values
        kwargs.update(pool_pre_ping=True, pool_size=8, max_overflow=16, connect_args={"prepare_threshold": None})
    else:
        raise ConfigError(f"unsupported catalog database {backend!r} in {url!r}; use sqlite or postgresql")
    engine = create_engine(url, **kwargs)
    if backend == "sqlite":
        _configure_sqlite(engine, read_only=read_only, wal=wal)
    return engine


def _configure_sqlite(engine: Engine, *, read_only: bool, wal: bool) -> None:
    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        if not read_only:
            cursor.execute(f"PRAGMA journal_mode={'WAL' if wal else 'DELETE'}")
            cursor.execute("PRAGMA synchronous=NORMAL" if wal else "PRAGMA synchronous=FULL")
        cursor.close()


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Return a session factory bound to ``engine`` (objects stay usable after commit)."""
    return sessionmaker(engine, expire_on_commit=False)
