"""A Python client of the hub's REST API (httpx).

Example:
    >>> with HubClient("http://127.0.0.1:8765", token="slh_...") as client:
    ...     page = client.samples_page('species = "wheat"', limit=50)
    ...     client.download(page.items[0].acquisitions[0].blob, "scan.nii.gz")
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import httpx

from seedlens.hub.errors import (
    AuthError,
    BlobCorruptError,
    BlobNotFoundError,
    ConflictError,
    ExprError,
    NotFoundError,
    ReadOnlyHubError,
    RemoteError,
)
from seedlens.hub.schemas import (
    BlobOut,
    FieldOut,
    HubInfoOut,
    ModelIn,
    ModelOut,
    PredictionIn,
    PredictionOut,
    PredictionsIn,
    SampleIn,
    SampleOut,
    SamplePage,
    SplitIn,
    SplitOut,
    TokenCreated,
    TokenOut,
    UploadOut,
)
from seedlens.hub.store import CHUNK, check_digest

API = "/api/v1"


class HubClient:
    """Talks to a served hub.

    Args:
        url: Base URL, e.g. ``http://127.0.0.1:8765``.
        token: Token sent as ``Authorization: Bearer``.
        timeout: Seconds per request (connect and read).
        transport: An httpx transport (tests).
    """

    def __init__(self, url: str, token: str | None = None, *, timeout: float = 60.0,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.url = url.rstrip("/")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout, transport=transport)

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> HubClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- plumbing --------------------------------------------------------------------------------

    def _check(self, response: httpx.Response, *, where: str | None = None, digest: str | None = None) -> None:
        if response.status_code < 400:
            return
        try:
            body = response.json()
            detail = str(body.get("detail", body)) if isinstance(body, dict) else str(body)
        except ValueError:
            body, detail = {}, response.text[:500]
        code = response.status_code
        if code in (401, 403) and "read-only" in detail:
            raise ReadOnlyHubError(detail)
        if code in (401, 403):
            raise AuthError(f"{self.url}: {detail} (HTTP {code})")
        if code == 404 and digest is not None:
            raise BlobNotFoundError(digest, f"not on {self.url}")
        if code == 404:
            raise NotFoundError(detail)
        if code == 409:
            raise ConflictError(detail)
        if code == 400 and where is not None and isinstance(body, dict) and body.get("position") is not None:
            problem = detail.split("\n", 1)[0].rsplit(" (at column", 1)[0]
            raise ExprError(where, int(body["position"]), problem)
        raise RemoteError(code, detail)

    def _get(self, path: str, params: dict[str, Any] | None = None, *, where: str | None = None) -> Any:
        response = self._http.get(path, params={k: v for k, v in (params or {}).items() if v is not None})
        self._check(response, where=where)
        return response.json()

    def _send(self, method: str, path: str, json: Any = None, params: dict[str, Any] | None = None) -> Any:
        response = self._http.request(method, path, json=json,
                                      params={k: v for k, v in (params or {}).items() if v is not None})
        self._check(response)
        return response.json()

    # ---- reading ---------------------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        """Return the liveness answer (no token needed)."""
        result: dict[str, Any] = self._get("/health")
        return result

    def info(self) -> HubInfoOut:
        """Return counts, projects and fields."""
        return HubInfoOut.model_validate(self._get(f"{API}/info"))

    def fields(self) -> list[FieldOut]:
        """Return the fields usable in ``where``."""
        return [FieldOut.model_validate(f) for f in self._get(f"{API}/fields")]

    def samples_page(self, where: str | None = None, *, project: str | None = None, limit: int = 100,
                     cursor: str | None = None, count: bool = False) -> SamplePage:
        """Return one page of matching samples."""
        params = {"where": where, "project": project, "limit": limit, "cursor": cursor, "count": count or None}
        return SamplePage.model_validate(self._get(f"{API}/samples", params, where=where))

    def iter_samples(self, where: str | None = None, *, project: str | None = None,
                     page_size: int = 500) -> Iterator[SampleOut]:
        """Yield every matching sample, following the page cursors."""
        cursor: str | None = None
        while True:
            page = self.samples_page(where, project=project, limit=page_size, cursor=cursor)
            yield from page.items
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    def sample(self, sample_id: str, *, project: str | None = None) -> SampleOut:
        """Return one sample."""
        return SampleOut.model_validate(self._get(f"{API}/samples/{_quote(sample_id)}", {"project": project}))

    def models(self) -> list[ModelOut]:
        """Return the registered models."""
        return [ModelOut.model_validate(m) for m in self._get(f"{API}/models")]

    def model(self, uid: str) -> ModelOut:
        """Return one model."""
        return ModelOut.model_validate(self._get(f"{API}/models/{_quote(uid)}"))

    def predictions(self, model: str | None = None, *, where: str | None = None,
                    project: str | None = None) -> list[PredictionOut]:
        """Return stored predictions."""
        data = self._get(f"{API}/predictions", {"model": model, "where": where, "project": project}, where=where)
        return [PredictionOut.model_validate(p) for p in data]

    def read_range(self, digest: str, first: int, last: int | None = None) -> bytes:
        """Return bytes ``first..last`` (inclusive) of a blob; a negative ``first`` asks for the last bytes."""
        check_digest(digest)
        spec = f"bytes={first}-" if last is None and first >= 0 else f"bytes=-{-first}" if first < 0 else \
            f"bytes={first}-{last}"
        response = self._http.get(f"{API}/blobs/{digest}", headers={"Range": spec})
        self._check(response, digest=digest)
        return response.content

    def download(self, digest: str, dest: str | Path) -> Path:
        """Download a blob to ``dest`` atomically, resuming a partial download, and verify its sha256.

        Raises:
            BlobNotFoundError: no such blob.
            BlobCorruptError: the received bytes do not hash to ``digest``.
        """
        check_digest(digest)
        dest = Path(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        part = dest.with_name(f".{dest.name}.{digest[:16]}.part")
        hasher = hashlib.sha256()
        have = part.stat().st_size if part.exists() else 0
        if have:
            with open(part, "rb") as handle:
                while chunk := handle.read(CHUNK):
                    hasher.update(chunk)
        headers = {"Range": f"bytes={have}-"} if have else {}
        with self._http.stream("GET", f"{API}/blobs/{digest}", headers=headers) as response:
            if response.status_code == 416 and have:  # the part file is already complete
                pass
            else:
                if response.status_code >= 400:
                    response.read()
                    self._check(response, digest=digest)
                mode = "ab" if response.status_code == 206 else "wb"
                if mode == "wb":
                    hasher = hashlib.sha256()
                with open(part, mode) as handle:
                    for chunk in response.iter_bytes(CHUNK):
                        hasher.update(chunk)
                        handle.write(chunk)
        if hasher.hexdigest() != digest:
            part.unlink(missing_ok=True)
            raise BlobCorruptError(digest, f"downloaded bytes hash to {hasher.hexdigest()}")
        part.replace(dest)
        return dest

    # ---- writing ---------------------------------------------------------------------------------

    def put_sample(self, sample_id: str, data: SampleIn, *, project: str = "default") -> SampleOut:
        """Create or update a sample's fields, tags and traits."""
        body = data.model_dump(exclude_none=True)
        return SampleOut.model_validate(self._send("PUT", f"{API}/samples/{_quote(sample_id)}", body,
                                                   {"project": project}))

    def upload(self, path: str | Path, *, sample_id: str, modality: str, project: str = "default",
               filename: str | None = None, keep_phi: bool = False, source_name: str | None = None) -> UploadOut:
        """Upload a file (or a ``.tar`` of a DICOM series / ENVI pair) as an acquisition of ``sample_id``."""
        path = Path(path)
        params = {"filename": filename or path.name, "modality": modality, "project": project,
                  "keep_phi": str(keep_phi).lower()}
        if source_name:
            params["source_name"] = source_name
        with open(path, "rb") as handle:
            response = self._http.post(f"{API}/samples/{_quote(sample_id)}/acquisitions", params=params,
                                       content=_chunks(handle), headers={
                                           "Content-Type": "application/octet-stream",
                                           "Content-Length": str(path.stat().st_size)})
        self._check(response)
        return UploadOut.model_validate(response.json())

    def put_blob(self, data: bytes) -> BlobOut:
        """Store raw bytes as a blob."""
        response = self._http.post(f"{API}/blobs", content=data, headers={"Content-Type": "application/octet-stream"})
        self._check(response)
        return BlobOut.model_validate(response.json())

    def register_model(self, model: ModelIn) -> ModelOut:
        """Register a model."""
        return ModelOut.model_validate(self._send("POST", f"{API}/models", model.model_dump()))

    def write_predictions(self, uid: str, items: Iterable[PredictionIn], *, project: str | None = None) -> int:
        """Store predictions of model ``uid``; return how many were written."""
        body = PredictionsIn(project=project, items=list(items)).model_dump()
        return int(self._send("POST", f"{API}/models/{_quote(uid)}/predictions", body)["written"])

    def bundle(self, out: str | Path, where: str | None = None, *, project: str | None = None) -> Path:
        """Have the server compile a bundle and save the ``.tar`` to ``out``."""
        out = Path(out)
        tmp = out.with_name(f".{out.name}.{uuid.uuid4().hex[:8]}.part")
        try:
            with self._http.stream("POST", f"{API}/bundles", json={"where": where, "project": project},
                                   timeout=None) as response:
                if response.status_code >= 400:
                    response.read()
                    self._check(response, where=where)
                with open(tmp, "wb") as handle:
                    for chunk in response.iter_bytes(CHUNK):
                        handle.write(chunk)
            tmp.replace(out)
        finally:
            tmp.unlink(missing_ok=True)
        return out

    def split(self, request: SplitIn) -> SplitOut:
        """Have the server assign grouped splits (write scope)."""
        return SplitOut.model_validate(self._send("POST", f"{API}/splits", request.model_dump()))

    def tokens(self) -> list[TokenOut]:
        """List tokens (admin)."""
        return [TokenOut.model_validate(t) for t in self._get(f"{API}/tokens")]

    def create_token(self, name: str, scope: str = "read") -> TokenCreated:
        """Create a token (admin); the answer holds its text once."""
        return TokenCreated.model_validate(self._send("POST", f"{API}/tokens", {"name": name, "scope": scope}))

    def revoke_token(self, name: str) -> TokenOut:
        """Revoke a token (admin)."""
        return TokenOut.model_validate(self._send("DELETE", f"{API}/tokens/{_quote(name)}"))


def _quote(segment: str) -> str:
    from urllib.parse import quote

    return quote(segment, safe="")


def _chunks(handle: Any) -> Iterator[bytes]:
    while chunk := handle.read(CHUNK):
        yield chunk
