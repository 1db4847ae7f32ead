"""Samples: list/filter with pagination, detail, metadata upsert and file upload."""

from __future__ import annotations

import tempfile
from pathlib import Path as FilePath
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Request, Response, status
from fastapi.concurrency import run_in_threadpool

from seedlens.hub import names
from seedlens.hub.api.deps import HubDep, ReadToken, SettingsDep, WriteToken
from seedlens.hub.catalog import queries
from seedlens.hub.schemas import ErrorOut, FieldOut, HubInfoOut, SampleIn, SampleOut, SamplePage, UploadOut
from seedlens.types import Modality

router = APIRouter(prefix="/api/v1", tags=["samples"])

SampleId = Annotated[str, Path(min_length=1, max_length=255, description="the sample's id")]
Project = Annotated[str | None, Query(max_length=128, description="project name (default: any / 'default')")]
Where = Annotated[str | None, Query(max_length=8192, description='filter, e.g. species = "wheat" and lot in ("L1")')]
ERRORS: dict[int | str, dict[str, object]] = {400: {"model": ErrorOut}, 404: {"model": ErrorOut}}


@router.get("/info", response_model=HubInfoOut, summary="Counts, projects and filter fields")
def info(hub: HubDep, _: ReadToken) -> HubInfoOut:
    """Return counts, projects and the fields usable in ``where``."""
    return hub.info()


@router.get("/fields", response_model=list[FieldOut], summary="Fields usable in where expressions")
def fields(hub: HubDep, _: ReadToken) -> list[FieldOut]:
    """Return every field name and kind."""
    return hub.fields()


@router.get("/samples", response_model=SamplePage, responses=ERRORS, summary="List and filter samples")
def list_samples(
    hub: HubDep,
    settings: SettingsDep,
    _: ReadToken,
    where: Where = None,
    project: Project = None,
    limit: Annotated[int, Query(ge=1, description="page size (at most SEEDLENS_MAX_PAGE_SIZE)")] = 100,
    cursor: Annotated[str | None, Query(max_length=64, description="next_cursor of the previous page")] = None,
    count: Annotated[bool, Query(description="also return the number of matching samples")] = False,
) -> Response:
    """Return one page of samples matching ``where``, in insertion order."""
    limit = min(limit, settings.max_page_size)
    with hub.session() as session:
        items, next_cursor = queries.page_views(session, where, project, limit, cursor)
        total = queries.count_samples(session, where, project) if count else None
    page = SamplePage(items=items, next_cursor=next_cursor, total=total)
    return Response(page.model_dump_json(), media_type="application/json")  # already validated: skip re-encoding


@router.get("/samples/{sample_id}", response_model=SampleOut, responses=ERRORS, summary="One sample")
def get_sample(hub: HubDep, _: ReadToken, sample_id: SampleId, project: Project = None) -> SampleOut:
    """Return a sample with its tags, traits and acquisitions."""
    return hub.sample(names.check_sample_id(sample_id), project=project)


@router.put("/samples/{sample_id}", response_model=SampleOut, responses=ERRORS, summary="Create or update a sample")
def put_sample(hub: HubDep, _: WriteToken, sample_id: SampleId, body: SampleIn,
               project: Annotated[str, Query(max_length=128)] = "default") -> SampleOut:
    """Set fields, tags (replaced when given) and traits (null removes one)."""
    return hub.upsert_sample(sample_id, body, project=project)


@router.post(
    "/samples/{sample_id}/acquisitions",
    response_model=UploadOut,
    status_code=status.HTTP_201_CREATED,
    responses={**ERRORS, 413: {"model": ErrorOut}, 422: {"model": ErrorOut}},
    summary="Upload a scan (raw request body) as an acquisition",
    openapi_extra={"requestBody": {"required": True, "content": {"application/octet-stream": {
        "schema": {"type": "string", "format": "binary"}}}}},
)
async def upload(
    request: Request,
    response: Response,
    hub: HubDep,
    settings: SettingsDep,
    _: WriteToken,
    sample_id: SampleId,
    filename: Annotated[str, Query(max_length=255, description="original file name; its suffix names the format "
                                                                "(.tar for a DICOM series or ENVI pair)")],
    modality: Annotated[Modality, Query(description="image, volume, cube or table")],
    project: Annotated[str, Query(max_length=128)] = "default",
    keep_phi: Annotated[bool, Query(description="store DICOM as is instead of de-identified")] = False,
    source_name: Annotated[str | None, Query(max_length=1024, description="where the file came from (relative "
                                                                          "path), kept in the catalog")] = None,
) -> UploadOut:
    """Store the request body as a new acquisition of ``sample_id`` (201), or find the identical one (200)."""
    hub.check_writable()
    name = names.check_filename(filename)
    names.check_sample_id(sample_id)
    names.check_project(project)
    source = names.check_member_path(source_name) if source_name else name
    limit = settings.max_upload_bytes
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, f"upload of {declared} bytes exceeds the limit of "
                                                               f"{limit} bytes (SEEDLENS_MAX_UPLOAD_BYTES)")
    with tempfile.TemporaryDirectory(prefix="seedlens-upload-") as scratch:
        path = FilePath(scratch) / name
        received = 0
        with open(path, "wb") as handle:
            async for chunk in request.stream():
                received += len(chunk)
                if received > limit:
                    raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE,
                                        f"upload exceeds the limit of {limit} bytes (SEEDLENS_MAX_UPLOAD_BYTES)")
                handle.write(chunk)
        if received == 0:
            raise HTTPException(status.HTTP_400_BAD_REQUEST, "empty upload: send the file as the request body")
        result = await run_in_threadpool(hub.add_file, path, sample_id=sample_id, modality=modality.value,
                                         project=project, source_name=source, keep_phi=keep_phi)
    if not result.created:
        response.status_code = status.HTTP_200_OK
    return result
