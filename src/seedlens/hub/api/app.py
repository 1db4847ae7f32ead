"""The REST API's app factory: ``create_app(settings)``; no globals, no engine at import time."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from seedlens import __version__
from seedlens.errors import ConfigError, DataSourceError, SeedlensError
from seedlens.hub.api.routers import blobs, bundles, health, models, samples, splits, tokens, ui
from seedlens.hub.errors import (
    BlobCorruptError,
    BlobNotFoundError,
    BundleError,
    ConflictError,
    ExprError,
    HubError,
    InvalidNameError,
    NotFoundError,
    ReadOnlyHubError,
)
from seedlens.hub.local import LocalHub
from seedlens.hub.settings import HubSettings
from seedlens.hub.tokens import StaticTokens, TokenInfo

log = logging.getLogger(__name__)

DESCRIPTION = """The seedlens data hub: samples and their scans (image, volume, cube, table), labels and traits,
models and predictions. Every route but `/health` needs a token (`Authorization: Bearer slh_...`) whose scope
(read < write < admin) covers it. Filters use the `where` expression language, e.g.
`species = "wheat" and germination in ("abnormal", "dead") and oil_content > 40`."""


def _status_of(err: HubError) -> int:
    if isinstance(err, (NotFoundError, BlobNotFoundError)):
        return status.HTTP_404_NOT_FOUND
    if isinstance(err, ReadOnlyHubError):
        return status.HTTP_403_FORBIDDEN
    if isinstance(err, ConflictError):
        return status.HTTP_409_CONFLICT
    if isinstance(err, BlobCorruptError):
        return status.HTTP_500_INTERNAL_SERVER_ERROR
    if isinstance(err, DataSourceError):  # HubImportError, LabelsError: the content is unusable
        return status.HTTP_422_UNPROCESSABLE_CONTENT
    if isinstance(err, (ExprError, InvalidNameError, BundleError, ConfigError)):
        return status.HTTP_400_BAD_REQUEST
    return status.HTTP_400_BAD_REQUEST


def create_app(settings: HubSettings | None = None, *, hub: LocalHub | None = None,
               static_tokens: StaticTokens | None = None) -> FastAPI:
    """Build the REST API of a hub.

    Args:
        settings: Settings (default: from the environment); ``settings.hub`` names the hub to serve when
            ``hub`` is not given.
        hub: An already open local hub or bundle to serve (it is not closed by the app).
        static_tokens: Tokens accepted besides the catalog's (a served bundle has no token table).

    Returns:
        The FastAPI application; run it with uvicorn (``seedlens hub serve``).

    Raises:
        HubNotFoundError: no hub given and none configured.
    """
    settings = settings or HubSettings.from_env()
    owned = hub is None
    if hub is None:
        from seedlens.hub.hub import Hub

        opened = Hub.open(settings.hub, settings=settings, read_only=settings.read_only)
        if not isinstance(opened, LocalHub):
            raise ConfigError(f"cannot serve {settings.hub}: serve a local hub, database or bundle, not a URL")
        hub = opened
    served: LocalHub = hub
    extra = static_tokens or StaticTokens()

    def authenticate(token: str) -> TokenInfo | None:
        return extra.authenticate(token) or served.authenticate(token)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if not served.read_only:
            served.store.clean_tmp()
        yield
        if owned:
            served.close()

    app = FastAPI(title="seedlens hub", version=__version__, description=DESCRIPTION, lifespan=lifespan,
                  openapi_url="/openapi.json", docs_url="/docs", redoc_url=None)
    app.state.hub = served
    app.state.settings = settings
    app.state.authenticate = authenticate
    for router in (health.router, samples.router, splits.router, blobs.router, models.router, bundles.router,
                   tokens.router, ui.router):
        app.include_router(router)
    from fastapi.staticfiles import StaticFiles

    from seedlens.viewer.sample_view import ViewCache
    from seedlens.viewer.web import STATIC_DIR

    app.mount("/ui/static", StaticFiles(directory=STATIC_DIR), name="ui-static")
    app.state.ui_views = ViewCache(max_bytes=settings.ui_cache_bytes)

    @app.exception_handler(HubError)
    async def hub_error(_: Request, err: HubError) -> JSONResponse:
        code = _status_of(err)
        if code >= 500:
            log.error("hub integrity error: %s", err)
        body: dict[str, object] = {"detail": str(err)}
        if isinstance(err, ExprError):
            body["position"] = err.position
        return JSONResponse(body, status_code=code)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, err: RequestValidationError) -> JSONResponse:
        # the default handler echoes the input back, which fails (500) for NaN/Infinity in a JSON body
        detail = [{"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": str(e.get("type", ""))}
                  for e in err.errors()]
        return JSONResponse({"detail": detail}, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)

    @app.exception_handler(ConfigError)
    async def config_error(_: Request, err: ConfigError) -> JSONResponse:
        return JSONResponse({"detail": str(err)}, status_code=status.HTTP_400_BAD_REQUEST)

    @app.exception_handler(SeedlensError)
    async def unusable(_: Request, err: SeedlensError) -> JSONResponse:
        # a stored scan or heatmap that cannot be shown (unreadable, shapes that disagree): the content, not the call
        return JSONResponse({"detail": str(err)}, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)

    return app
