"""The hub's web interface: the ``/ui`` page and the plane-by-plane pictures of scans and heatmaps it shows.

The page itself is public (it holds no data); everything it shows comes from token-checked routes, with the token
the user signed in with kept in the browser's session storage and sent as a header, never in a URL.
"""

from __future__ import annotations

from pathlib import Path as FilePath
from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from seedlens.hub import names
from seedlens.hub.api.deps import HubDep, ReadToken, SettingsDep
from seedlens.hub.errors import NotFoundError
from seedlens.hub.local import LocalHub
from seedlens.hub.schemas import AcquisitionOut, ErrorOut
from seedlens.hub.settings import HubSettings
from seedlens.viewer.sample_view import SampleView, ViewCache
from seedlens.viewer.web import Axis, Band, Pixel, Plane, page, png

router = APIRouter(tags=["ui"])

SampleId = Annotated[str, Path(min_length=1, max_length=255, description="the sample's id")]
Digest = Annotated[str, Path(pattern=r"^[0-9a-f]{64}$", description="sha256 of the acquisition's blob")]
Uid = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$", description="the model's uid")]
Project = Annotated[str | None, Query(max_length=128, description="project name (default: any / 'default')")]
ERRORS: dict[int | str, dict[str, object]] = {400: {"model": ErrorOut}, 404: {"model": ErrorOut},
                                              422: {"model": ErrorOut}}
PNG: dict[int | str, dict[str, Any]] = {200: {"content": {"image/png": {}}, "description": "a PNG layer"}}


@router.get("/ui", include_in_schema=False)
def ui_page() -> Response:
    """The hub's web interface (sign-in, samples, sample pages)."""
    return page("hub.html")


@router.get("/ui/colour-bar.png", include_in_schema=False)
def colour_bar() -> Response:
    """The heatmap colour bar (no data: public, so that the page can show it in an ``<img>``)."""
    from seedlens.viewer import layers

    return png(layers.colour_bar_png())


def _views(request: Request) -> ViewCache:
    views: ViewCache = request.app.state.ui_views
    return views


def _acquisition(hub: LocalHub, sample_id: str, digest: str, project: str | None) -> tuple[str, AcquisitionOut]:
    sample = hub.sample(names.check_sample_id(sample_id), project=project)
    for acquisition in sample.acquisitions:
        if acquisition.blob == digest:
            return sample.project, acquisition
    raise NotFoundError(f"sample {sample_id!r} has no acquisition with blob {digest}")


def _heatmap_digest(hub: LocalHub, model: str, project: str, sample_id: str, digest: str) -> str:
    quoted = sample_id.replace("\\", "\\\\").replace('"', '\\"')
    for prediction in hub.predictions(model, where=f'sample_id = "{quoted}"', project=project):
        if prediction.heatmap and prediction.blob in (None, digest):
            return prediction.heatmap
    raise NotFoundError(f"model {model} has no heatmap for acquisition {digest} of sample {sample_id!r}")


def _view(request: Request, hub: LocalHub, settings: HubSettings, sample_id: str, digest: str,
          project: str | None, model: str | None = None) -> SampleView:
    """The view of one acquisition (with one model's heatmap), read from the store once and cached."""
    project_name, acquisition = _acquisition(hub, sample_id, digest, project)
    heatmap = _heatmap_digest(hub, model, project_name, sample_id, digest) if model else None
    key = (project_name, sample_id, digest, heatmap)
    return _views(request).get(key, lambda: _build(hub, settings.cache_dir, acquisition, heatmap))


def _build(hub: LocalHub, cache: FilePath, acquisition: AcquisitionOut, heatmap: str | None) -> SampleView:
    from seedlens.errors import ShapeError
    from seedlens.explain import normalize_local
    from seedlens.hub.dataset import materialize
    from seedlens.hub.reading import read_array
    from seedlens.types import Modality
    from seedlens.viewer.layers import quantize

    modality = Modality.parse(acquisition.modality)
    array, meta = read_array(materialize(hub, acquisition, cache / "ui"), modality)
    heat: dict[str, np.ndarray] = {}
    if heatmap is not None:
        target = cache / "ui" / "files" / f"{heatmap}.npy"
        if not target.is_file():
            hub.fetch_blob(heatmap, target)
        raw = np.load(target, mmap_mode="r", allow_pickle=False)
        spatial = tuple(np.shape(array)[1:])
        if raw.shape[-len(spatial):] != spatial or raw.size != int(np.prod(spatial)):
            raise ShapeError(f"heatmap {heatmap} has shape {raw.shape}; the scan's grid is {spatial}")
        heat["local"] = quantize(normalize_local(np.asarray(raw, np.float32).reshape(1, 1, *spatial))[0])
    return SampleView(array=array, kind=modality.value, spacing=meta.voxel_size, wavelengths=meta.wavelengths,
                      heat=heat)


@router.get("/api/v1/samples/{sample_id}/acquisitions/{digest}/layout", responses=ERRORS,
            summary="How to show an acquisition: kind, shape, planes per axis, spacing, bands")
async def layout(request: Request, hub: HubDep, settings: SettingsDep, _: ReadToken, sample_id: SampleId,
                 digest: Digest, project: Project = None,
                 model: Annotated[str | None, Query(pattern=r"^[0-9a-f]{32}$",
                                                    description="include this model's heatmap")] = None,
                 ) -> dict[str, Any]:
    """The layout a viewer needs for one acquisition (and a model's heatmap of it)."""
    view = await run_in_threadpool(_view, request, hub, settings, sample_id, digest, project, model)
    return view.describe()


@router.get("/api/v1/samples/{sample_id}/acquisitions/{digest}/scan.png", responses={**ERRORS, **PNG},
            response_class=Response, summary="One plane of an acquisition (a cube: one band or false colour)")
async def scan(request: Request, hub: HubDep, settings: SettingsDep, _: ReadToken, sample_id: SampleId,
               digest: Digest, project: Project = None, plane: Plane = 0, axis: Axis = None,
               band: Band = None) -> Response:
    """A PNG of one plane of the stored scan."""
    view = await run_in_threadpool(_view, request, hub, settings, sample_id, digest, project)
    return png(await run_in_threadpool(view.scan_png, axis, plane, band))


@router.get("/api/v1/samples/{sample_id}/acquisitions/{digest}/spectrum", responses=ERRORS,
            summary="The spectrum of one pixel of a stored cube")
async def spectrum(request: Request, hub: HubDep, settings: SettingsDep, _: ReadToken, sample_id: SampleId,
                   digest: Digest, y: Pixel, x: Pixel, project: Project = None) -> dict[str, Any]:
    """Band values of pixel ``(y, x)``."""
    view = await run_in_threadpool(_view, request, hub, settings, sample_id, digest, project)
    return view.spectrum(y, x)


@router.get("/api/v1/samples/{sample_id}/acquisitions/{digest}/heatmaps/{model}.png", responses={**ERRORS, **PNG},
            response_class=Response, summary="One plane of a model's stored heatmap of an acquisition, in colour")
async def heatmap(request: Request, hub: HubDep, settings: SettingsDep, _: ReadToken, sample_id: SampleId,
                  digest: Digest, model: Uid, project: Project = None, plane: Plane = 0,
                  axis: Axis = None) -> Response:
    """A PNG of one plane of the heatmap, scaled by its own range."""
    view = await run_in_threadpool(_view, request, hub, settings, sample_id, digest, project, model)
    return png(await run_in_threadpool(view.heat_png, axis, plane, "local"))
