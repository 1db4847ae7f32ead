"""FastAPI dependencies: the hub, the settings and token checks, declared once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from seedlens.hub.local import LocalHub
from seedlens.hub.settings import HubSettings
from seedlens.hub.tokens import TokenInfo, scope_allows

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="token",
    description="A hub token (`seedlens hub token create --scope read|write|admin`), sent as `Bearer slh_...`.",
)


def get_hub(request: Request) -> LocalHub:
    """Return the hub the app serves."""
    hub: LocalHub = request.app.state.hub
    return hub


def get_settings(request: Request) -> HubSettings:
    """Return the app's settings."""
    settings: HubSettings = request.app.state.settings
    return settings


HubDep = Annotated[LocalHub, Depends(get_hub)]
SettingsDep = Annotated[HubSettings, Depends(get_settings)]
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


def require(scope: str) -> Callable[[Request, HTTPAuthorizationCredentials | None], TokenInfo]:
    """Return a dependency that admits a valid, unrevoked token of at least ``scope``."""

    def check(request: Request, credentials: Credentials) -> TokenInfo:
        challenge = {"WWW-Authenticate": "Bearer"}
        if credentials is None:
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, "missing token: send 'Authorization: Bearer <token>'",
                                headers=challenge)
        info: TokenInfo | None = request.app.state.authenticate(credentials.credentials)
        if info is None:
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, "invalid or revoked token", headers=challenge)
        if not scope_allows(info.scope, scope):
            raise HTTPException(status.HTTP_403_FORBIDDEN,
                                f"token {info.name!r} has scope {info.scope!r}; this needs {scope!r}")
        return info

    return check


ReadToken = Annotated[TokenInfo, Depends(require("read"))]
WriteToken = Annotated[TokenInfo, Depends(require("write"))]
AdminToken = Annotated[TokenInfo, Depends(require("admin"))]
