"""What both viewer apps (a run's, the hub's ``/ui``) share: the static files, PNG responses, query parameters."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import Query
from fastapi.responses import Response

#: The page files (HTML, JS, CSS) shipped inside the package: no CDN, no build step, works offline.
STATIC_DIR = Path(__file__).with_name("static")

Axis = Annotated[int | None, Query(ge=0, le=2, description="spatial axis of a volume's plane (0, 1 or 2); none for 2D")]
Plane = Annotated[int, Query(ge=0, le=2**31 - 1, description="plane index along the axis (0 for 2D samples)")]
Band = Annotated[int | None, Query(ge=0, le=2**16, description="a cube's band shown in grey (none: false colour)")]
Pixel = Annotated[int, Query(ge=0, le=2**31 - 1)]

#: Content Security Policy of the pages: everything from this server, nothing from anywhere else.
CSP = ("default-src 'self'; img-src 'self' blob: data:; style-src 'self'; script-src 'self'; "
       "connect-src 'self'; frame-ancestors 'none'")


def png(content: bytes) -> Response:
    """A PNG layer; browsers may keep it (a sample's layers do not change while it is served)."""
    return Response(content, media_type="image/png", headers={"Cache-Control": "private, max-age=300"})


def page(name: str) -> Response:
    """One of the HTML pages in :data:`STATIC_DIR`, with the content security policy."""
    return Response((STATIC_DIR / name).read_bytes(), media_type="text/html",
                    headers={"Content-Security-Policy": CSP, "Cache-Control": "no-cache"})
