"""Alembic migrations run from Python: ``upgrade`` to head and check the revision on open."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from seedlens.hub.errors import CatalogVersionError


def _alembic_config(engine: Engine) -> Any:
    from alembic.config import Config

    package = resources.files("seedlens.hub")
    config = Config(str(Path(str(package)) / "alembic.ini"))
    config.set_main_option("script_location", str(Path(str(package)) / "migrations"))
    config.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%"))
    return config


def head_revision(engine: Engine) -> str:
    """Return the newest migration revision shipped with this seedlens."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_alembic_config(engine)).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    """Return the catalog's applied revision, or None for an empty database."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply migrations up to ``revision`` (``head`` by default); idempotent."""
    from alembic import command

    config = _alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def check_revision(engine: Engine, where: str) -> None:
    """Raise unless the catalog at ``where`` is at the head revision.

    Raises:
        CatalogVersionError: the database is empty, older or newer than this seedlens.
    """
    current = current_revision(engine)
    head = head_revision(engine)
    if current == head:
        return
    if current is None:
        raise CatalogVersionError(f"{where}: not a seedlens hub catalog (no schema); run `seedlens hub init`")
    raise CatalogVersionError(
        f"{where}: catalog schema is at revision {current!r}, this seedlens expects {head!r}; "
        "run `seedlens hub init --url ...` to upgrade it (or update seedlens)"
    )
