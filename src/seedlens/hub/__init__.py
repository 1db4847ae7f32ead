"""The data hub: SQL catalog, content-addressed blob store, REST API with tokens, offline bundles.

Public API (imported lazily, so ``import seedlens.hub`` stays light)::

    from seedlens.hub import Hub, HubSource, HubClient, HubSettings, create_app

See ``docs/hub.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from seedlens.hub.api import create_app
    from seedlens.hub.client import HubClient
    from seedlens.hub.dataset import HubSource
    from seedlens.hub.hub import Hub
    from seedlens.hub.local import LocalHub
    from seedlens.hub.provenance import ParentLink
    from seedlens.hub.remote import RemoteHub
    from seedlens.hub.settings import HubSettings

_EXPORTS = {
    "Hub": "seedlens.hub.hub",
    "LocalHub": "seedlens.hub.local",
    "ParentLink": "seedlens.hub.provenance",
    "RemoteHub": "seedlens.hub.remote",
    "HubSource": "seedlens.hub.dataset",
    "HubClient": "seedlens.hub.client",
    "HubSettings": "seedlens.hub.settings",
    "create_app": "seedlens.hub.api",
}

__all__ = ["Hub", "HubClient", "HubSettings", "HubSource", "LocalHub", "ParentLink", "RemoteHub", "create_app"]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'seedlens.hub' has no attribute {name!r}")
