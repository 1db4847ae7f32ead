"""The run viewer's web app: one page and the JSON / PNG endpoints it reads (``seedlens view``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import FastAPI, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from seedlens.errors import ConfigError, SeedlensError, UnknownNameError
from seedlens.viewer.fusion_session import FusionSession
from seedlens.viewer.run_session import RunSession
from seedlens.viewer.web import STATIC_DIR, Axis, Band, Pixel, Plane, page, png

Index = Annotated[int, Path(ge=0, le=2**31 - 1, description="the sample's row in the run's table")]
Normalize = Annotated[str, Query(pattern="^(local|global)$", description="local or global heatmap scaling")]
Modality = Annotated[str | None, Query(max_length=128, description="a fusion sample's modality (column name)")]


def create_run_app(session: RunSession | FusionSession) -> FastAPI:
    """The viewer of one run: ``/`` the page, ``/api/...`` what it reads, ``/static/...`` its scripts.

    Args:
        session: The opened run: a detector's (:class:`~seedlens.viewer.run_session.RunSession`) or a fusion
            model's (:class:`~seedlens.viewer.fusion_session.FusionSession`, whose layers name a ``modality``).

    Returns:
        A FastAPI app; serve it with uvicorn on a loopback address (it has no authentication).
    """
    from seedlens import __version__
    from seedlens.viewer import layers

    app = FastAPI(title=f"seedlens view · {session.run.name}", version=__version__, docs_url=None, redoc_url=None)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.exception_handler(SeedlensError)
    async def seedlens_error(_: Request, err: SeedlensError) -> JSONResponse:
        # an unknown sample is 404, a plane or band outside the sample 400, an unreadable file (ReadError...) 422
        code = 404 if isinstance(err, UnknownNameError) else 400 if isinstance(err, ConfigError) else 422
        return JSONResponse({"detail": str(err)}, status_code=code)

    @app.get("/", include_in_schema=False)
    def index() -> Response:
        return page("run.html")

    @app.get("/api/run", summary="The run, its samples with scores, the ROC curve and the score histogram")
    def run() -> dict[str, Any]:
        return session.overview()

    @app.get("/api/samples/{index}", summary="One sample: its row and layout (shape, planes, spacing, bands)")
    def sample(index: Index) -> dict[str, Any]:
        return session.sample(index)

    @app.get("/api/samples/{index}/scan.png", summary="One plane of the scan (a cube: one band or false colour)")
    def scan(index: Index, plane: Plane = 0, axis: Axis = None, band: Band = None,
             modality: Modality = None) -> Response:
        return png(session.view(index, modality).scan_png(axis, plane, band))

    @app.get("/api/samples/{index}/heatmap.png", summary="One plane of the heatmap in colour")
    def heatmap(index: Index, plane: Plane = 0, axis: Axis = None, normalize: Normalize = "local",
                modality: Modality = None) -> Response:
        return png(session.view(index, modality).heat_png(axis, plane, normalize))

    @app.get("/api/samples/{index}/mask.png", summary="One plane of the ground-truth contour (transparent: none)")
    def mask(index: Index, plane: Plane = 0, axis: Axis = None, modality: Modality = None) -> Response:
        return png(session.view(index, modality).mask_png(axis, plane))

    @app.get("/api/samples/{index}/spectrum", summary="The spectrum of one pixel of a cube")
    def spectrum(index: Index, y: Pixel, x: Pixel, modality: Modality = None) -> dict[str, Any]:
        return session.view(index, modality).spectrum(y, x)

    @app.get("/api/colour-bar.png", summary="The heatmap colour bar, low values on the left")
    def colour_bar() -> Response:
        return png(layers.colour_bar_png())

    return app
