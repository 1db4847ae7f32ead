"""Blobs: download with HTTP Range / ETag / If-None-Match, and raw upload (e.g. heatmaps)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from seedlens.hub.api.deps import HubDep, ReadToken, SettingsDep, WriteToken
from seedlens.hub.api.ranges import RangeNotSatisfiable, etag_matches, parse_range
from seedlens.hub.schemas import BlobOut, ErrorOut
from seedlens.hub.store import CHUNK, BlobStore

router = APIRouter(prefix="/api/v1", tags=["blobs"])

Digest = Annotated[str, Path(pattern=r"^[0-9a-f]{64}$", description="sha256 of the blob")]
CACHE = "private, max-age=31536000, immutable"


def _stream(store: BlobStore, digest: str, first: int, length: int) -> Iterator[bytes]:
    with store.open(digest) as handle:
        handle.seek(first)
        left = length
        while left > 0:
            chunk = handle.read(min(CHUNK, left))
            if not chunk:
                return
            left -= len(chunk)
            yield chunk


BLOB_RESPONSES: dict[int | str, dict[str, object]] = {
    200: {"content": {"application/octet-stream": {}}, "description": "the whole blob"},
    206: {"content": {"application/octet-stream": {}}, "description": "the requested byte range"},
    304: {"description": "If-None-Match matched the ETag"},
    404: {"model": ErrorOut},
    416: {"description": "the range starts past the end"},
}


@router.head("/blobs/{digest}", summary="A blob's size and ETag (no body)", responses=BLOB_RESPONSES,
             response_class=Response)
async def head_blob(request: Request, hub: HubDep, _: ReadToken, digest: Digest) -> Response:
    """Answer like GET without the body."""
    return await get_blob(request, hub, _, digest)


@router.get("/blobs/{digest}", summary="Download a blob (Range, ETag, If-None-Match)", responses=BLOB_RESPONSES,
            response_class=Response)
async def get_blob(request: Request, hub: HubDep, _: ReadToken, digest: Digest) -> Response:
    """Send the blob's bytes; blobs are immutable, so the ETag is their sha256."""
    size = await run_in_threadpool(hub.store.ensure_verified, digest)
    etag = f'"{digest}"'
    headers = {"ETag": etag, "Accept-Ranges": "bytes", "Cache-Control": CACHE}
    if etag_matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers=headers)
    range_header = request.headers.get("range")
    if_range = request.headers.get("if-range")
    if if_range is not None and if_range.strip() != etag:
        range_header = None
    try:
        wanted = parse_range(range_header, size)
    except RangeNotSatisfiable:
        return Response(status_code=status.HTTP_416_RANGE_NOT_SATISFIABLE,
                        headers={**headers, "Content-Range": f"bytes */{size}"})
    first, last = wanted if wanted is not None else (0, size - 1)
    length = max(0, last - first + 1)
    headers["Content-Length"] = str(length)
    code = status.HTTP_200_OK
    if wanted is not None:
        code = status.HTTP_206_PARTIAL_CONTENT
        headers["Content-Range"] = f"bytes {first}-{last}/{size}"
    if request.method == "HEAD":
        return Response(status_code=code, headers=headers, media_type="application/octet-stream")
    return StreamingResponse(_stream(hub.store, digest, first, length), status_code=code, headers=headers,
                             media_type="application/octet-stream")


@router.post("/blobs", response_model=BlobOut, status_code=status.HTTP_201_CREATED,
             responses={413: {"model": ErrorOut}}, summary="Upload raw bytes as a blob (e.g. a heatmap .npy)",
             openapi_extra={"requestBody": {"required": True, "content": {"application/octet-stream": {
                 "schema": {"type": "string", "format": "binary"}}}}})
async def put_blob(request: Request, response: Response, hub: HubDep, settings: SettingsDep, _: WriteToken) -> BlobOut:
    """Store the request body; answer 201 for a new blob, 200 if it was already stored."""
    hub.check_writable()
    limit = settings.max_upload_bytes
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, f"blob of {declared} bytes exceeds {limit} bytes")
    parts: list[bytes] = []
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > limit:
            raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, f"blob exceeds the limit of {limit} bytes")
        parts.append(chunk)
    result = await run_in_threadpool(hub.put_blob_bytes, b"".join(parts))
    if not result.created:
        response.status_code = status.HTTP_200_OK
    return result
