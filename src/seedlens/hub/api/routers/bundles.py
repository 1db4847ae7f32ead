"""Bundle creation: a query compiled into a ``.tar`` bundle streamed to the client."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse
from starlette.background import BackgroundTask

from seedlens.hub.api.deps import HubDep, ReadToken
from seedlens.hub.schemas import BundleIn, ErrorOut

router = APIRouter(prefix="/api/v1", tags=["bundles"])


@router.post("/bundles", summary="Create a bundle (.tar) of the samples matching a query",
             response_class=FileResponse,
             responses={200: {"content": {"application/x-tar": {}}, "description": "the bundle archive"},
                        400: {"model": ErrorOut}})
async def create_bundle(hub: HubDep, _: ReadToken, body: BundleIn) -> FileResponse:
    """Compile the matching samples, their blobs, models and predictions into a checksummed ``.tar``."""
    scratch = Path(tempfile.mkdtemp(prefix="seedlens-bundle-"))
    try:
        out = await run_in_threadpool(hub.bundle, scratch / "bundle.tar", body.where, project=body.project)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    return FileResponse(out, media_type="application/x-tar", filename="bundle.tar",
                        background=BackgroundTask(shutil.rmtree, scratch, ignore_errors=True))
