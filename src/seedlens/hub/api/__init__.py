"""The hub's REST API (FastAPI): ``create_app(settings)``."""

from seedlens.hub.api.app import create_app

__all__ = ["create_app"]
