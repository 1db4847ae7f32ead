"""The SQL catalog: ORM models, engines/sessions, migrations and the ``--where`` compiler."""

from seedlens.hub.catalog.engine import create_catalog_engine, session_factory, sqlite_url
from seedlens.hub.catalog.models import (
    Acquisition,
    ApiToken,
    Base,
    HubInfo,
    Model,
    Prediction,
    Project,
    Sample,
    Tag,
    Trait,
    TraitDef,
)

__all__ = [
    "Acquisition",
    "ApiToken",
    "Base",
    "HubInfo",
    "Model",
    "Prediction",
    "Project",
    "Sample",
    "Tag",
    "Trait",
    "TraitDef",
    "create_catalog_engine",
    "session_factory",
    "sqlite_url",
]
