"""``GET /health``: liveness, no token needed."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from seedlens import __version__
from seedlens.hub.api.deps import HubDep

router = APIRouter(tags=["health"])


class HealthOut(BaseModel):
    """Liveness answer."""

    status: str
    version: str
    read_only: bool


@router.get("/health", response_model=HealthOut, summary="Liveness check (no token needed)")
def health(hub: HubDep) -> HealthOut:
    """Return ``ok`` and whether the hub is read-only."""
    return HealthOut(status="ok", version=__version__, read_only=hub.read_only)
