"""Content-addressed blob store on any fsspec filesystem.

A blob's address is the sha256 of its bytes; it lives at ``ROOT/blobs/ab/cd/<sha256>``. Identical
content is stored once. Writes are atomic: on a local folder the bytes go to ``ROOT/tmp/`` first
(named after the writing host and process), are fsynced and then renamed into place; on object stores
(S3, GCS, Azure, memory) one PUT is already atomic, so the blob is uploaded straight to its key once
its hash is known. A blob at its final address is therefore always complete. Reads verify the hash.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import fsspec
from fsspec.implementations.local import LocalFileSystem

from seedlens.hub.errors import BlobCorruptError, BlobNotFoundError, InvalidNameError

CHUNK = 1024 * 1024
_HASH = re.compile(r"^[0-9a-f]{64}$")
_ATOMIC_PUT = {"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss", "adl", "memory"}


def check_digest(digest: str) -> str:
    """Return ``digest`` if it is a lower-case hex sha256, else raise :class:`InvalidNameError`."""
    if not isinstance(digest, str) or not _HASH.match(digest):
        raise InvalidNameError(f"not a sha256 blob address: {str(digest)[:80]!r} (expected 64 lower-case hex digits)")
    return digest


def sha256_file(path: str | Path) -> tuple[str, int]:
    """Return the sha256 hex digest and size of a local file."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


@dataclass(frozen=True)
class StoredBlob:
    """The result of a put: the blob's address, its size, and whether it was new."""

    digest: str
    size: int
    created: bool


class BlobStore:
    """Content-addressed blobs under an fsspec URL.

    Args:
        url: A local folder or any fsspec URL (``s3://bucket/prefix``, ``memory://x``...).
        storage_options: Options for the filesystem (credentials, ``client_kwargs.endpoint_url``...).
        read_only: Refuse writes (bundles).

    Example:
        >>> store = BlobStore("/data/hub")
        >>> blob = store.put_file("scan.nii.gz")
        >>> store.get_file(blob.digest, "/tmp/copy.nii.gz")
    """

    def __init__(self, url: str | os.PathLike[str], storage_options: dict[str, Any] | None = None, *,
                 read_only: bool = False) -> None:
        self.url = str(url)
        self.read_only = read_only
        fs, root = fsspec.core.url_to_fs(self.url, **(storage_options or {}))
        self.fs = fs
        self.root = str(root).rstrip("/")
        self.local = isinstance(fs, LocalFileSystem)
        protocols = fs.protocol if isinstance(fs.protocol, (tuple, list)) else (fs.protocol,)
        self.atomic_put = bool(set(protocols) & _ATOMIC_PUT)
        self._verified: dict[str, tuple[int, int]] = {}
        self._lock = threading.Lock()
        if self.local:
            Path(self.root).mkdir(parents=True, exist_ok=True)

    def __repr__(self) -> str:
        return f"BlobStore({self.url!r})"

    # ---- addresses -------------------------------------------------------------------------------

    def path_of(self, digest: str) -> str:
        """Return the filesystem path of the blob ``digest`` (validated, so no traversal is possible)."""
        check_digest(digest)
        return f"{self.root}/blobs/{digest[:2]}/{digest[2:4]}/{digest}"

    def exists(self, digest: str) -> bool:
        """Return True if the blob is stored."""
        return bool(self.fs.exists(self.path_of(digest)))

    def size(self, digest: str) -> int:
        """Return the stored size of the blob in bytes.

        Raises:
            BlobNotFoundError: no such blob.
        """
        try:
            return int(self.fs.size(self.path_of(digest)))
        except FileNotFoundError:
            raise BlobNotFoundError(digest, f"not in store {self.url}") from None

    def iter_digests(self) -> Iterator[str]:
        """Yield the address of every stored blob (files whose name is not a sha256 are skipped)."""
        base = f"{self.root}/blobs"
        if not self.fs.exists(base):
            return
        for path in self.fs.find(base):
            name = str(path).rsplit("/", 1)[-1]
            if _HASH.match(name):
                yield name

    def iter_stray(self) -> Iterator[str]:
        """Yield paths under ``blobs/`` that are not a correctly placed blob (for ``verify``)."""
        base = f"{self.root}/blobs"
        if not self.fs.exists(base):
            return
        for path in self.fs.find(base):
            text = str(path)
            name = text.rsplit("/", 1)[-1]
            if not _HASH.match(name) or not text.endswith(f"/blobs/{name[:2]}/{name[2:4]}/{name}"):
                yield text

    # ---- writes ----------------------------------------------------------------------------------

    def _check_writable(self) -> None:
        if self.read_only:
            from seedlens.hub.errors import ReadOnlyHubError

            raise ReadOnlyHubError(f"blob store {self.url} is read-only")

    def tmp_dir(self) -> Path | None:
        """Return the local temporary folder next to the blobs (same filesystem), or None if remote."""
        if not self.local:
            return None
        path = Path(self.root) / "tmp"
        path.mkdir(parents=True, exist_ok=True)
        return path

    def new_tmp_path(self) -> Path:
        """Return a fresh temporary file path owned by this process (local stores only)."""
        tmp = self.tmp_dir()
        assert tmp is not None, "new_tmp_path needs a local store"
        return tmp / f"{socket.gethostname()}.{os.getpid()}.{uuid.uuid4().hex}"

    def put_file(self, path: str | Path, *, move: bool = False) -> StoredBlob:
        """Store the local file ``path``; return its address.

        Args:
            path: The file to store.
            move: The file may be moved into the store instead of copied (it is gone afterwards).
                Only taken when the file is on the store's filesystem; otherwise it is copied.

        Raises:
            ReadOnlyHubError: the store is read-only.
        """
        self._check_writable()
        path = Path(path)
        if self.local:
            return self._put_local(path, move=move)
        digest, size = sha256_file(path)
        target = self.path_of(digest)
        if self.fs.exists(target):
            return StoredBlob(digest, size, created=False)
        if self.atomic_put:
            self.fs.put_file(str(path), target)
        else:
            staging = f"{self.root}/tmp/{uuid.uuid4().hex}"
            self.fs.put_file(str(path), staging)
            self.fs.mv(staging, target)
        if move:
            path.unlink(missing_ok=True)
        return StoredBlob(digest, size, created=True)

    def _put_local(self, path: Path, *, move: bool) -> StoredBlob:
        tmp = self.new_tmp_path()
        try:
            moved = False
            if move:
                try:
                    path.replace(tmp)
                    moved = True
                except OSError:  # another filesystem: copy instead
                    moved = False
            if moved:
                digest, size = sha256_file(tmp)
            else:
                digest, size = self._copy_hashing(path, tmp)
            with open(tmp, "rb") as handle:
                os.fsync(handle.fileno())
            target = Path(self.path_of(digest))
            if target.exists():
                tmp.unlink()
                if move and not moved:
                    path.unlink(missing_ok=True)
                return StoredBlob(digest, size, created=False)
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp.replace(target)
            if move and not moved:
                path.unlink(missing_ok=True)
            return StoredBlob(digest, size, created=True)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    @staticmethod
    def _copy_hashing(src: Path, dst: Path) -> tuple[str, int]:
        digest = hashlib.sha256()
        size = 0
        with open(src, "rb") as reader, open(dst, "wb") as writer:
            while chunk := reader.read(CHUNK):
                digest.update(chunk)
                writer.write(chunk)
                size += len(chunk)
            writer.flush()
        return digest.hexdigest(), size

    def put_bytes(self, data: bytes) -> StoredBlob:
        """Store ``data``; return its address."""
        self._check_writable()
        digest = hashlib.sha256(data).hexdigest()
        target = self.path_of(digest)
        if self.fs.exists(target):
            return StoredBlob(digest, len(data), created=False)
        if self.local:
            tmp = self.new_tmp_path()
            try:
                with open(tmp, "wb") as handle:
                    handle.write(data)
                    handle.flush()
                    os.fsync(handle.fileno())
                Path(target).parent.mkdir(parents=True, exist_ok=True)
                tmp.replace(target)
            except BaseException:
                tmp.unlink(missing_ok=True)
                raise
        elif self.atomic_put:
            self.fs.pipe_file(target, data)
        else:
            staging = f"{self.root}/tmp/{uuid.uuid4().hex}"
            self.fs.pipe_file(staging, data)
            self.fs.mv(staging, target)
        return StoredBlob(digest, len(data), created=True)

    def delete(self, digest: str) -> None:
        """Remove a blob (used by tests and garbage collection); missing blobs are ignored."""
        self._check_writable()
        with contextlib.suppress(FileNotFoundError):
            self.fs.rm_file(self.path_of(digest))
        self._verified.pop(digest, None)

    def clean_tmp(self, max_age_s: float = 24 * 3600) -> int:
        """Remove temporary files left by dead writers on this host (or older than ``max_age_s``).

        Returns:
            How many files were removed.
        """
        tmp = Path(self.root) / "tmp" if self.local else None
        if tmp is None or not tmp.is_dir():
            return 0
        host = socket.gethostname()
        removed = 0
        for path in tmp.iterdir():
            parts = path.name.split(".")
            stale = False
            try:
                age = time.time() - path.stat().st_mtime
            except FileNotFoundError:
                continue
            if age > max_age_s:
                stale = True
            elif len(parts) == 3 and parts[0] == host and parts[1].isdigit():
                stale = not _pid_alive(int(parts[1]))
            if stale:
                path.unlink(missing_ok=True)
                removed += 1
        return removed

    # ---- reads -----------------------------------------------------------------------------------

    def open(self, digest: str) -> IO[bytes]:
        """Open the blob for reading (raw, unverified; use for range reads after :meth:`ensure_verified`).

        Raises:
            BlobNotFoundError: no such blob.
        """
        try:
            return self.fs.open(self.path_of(digest), "rb")
        except FileNotFoundError:
            raise BlobNotFoundError(digest, f"not in store {self.url}") from None

    def hash_stored(self, digest: str) -> tuple[str, int]:
        """Re-hash the stored bytes of ``digest``; return (actual sha256, size)."""
        hasher = hashlib.sha256()
        size = 0
        with self.open(digest) as handle:
            while chunk := handle.read(CHUNK):
                hasher.update(chunk)
                size += len(chunk)
        return hasher.hexdigest(), size

    def verify(self, digest: str) -> bool:
        """Return True if the stored bytes still hash to ``digest``.

        Raises:
            BlobNotFoundError: no such blob.
        """
        return self.hash_stored(digest)[0] == digest

    def ensure_verified(self, digest: str) -> int:
        """Verify the blob once per change of its size/mtime (cached); return its size.

        Raises:
            BlobNotFoundError: no such blob.
            BlobCorruptError: its bytes changed.
        """
        stamp = self._stamp(digest)
        with self._lock:
            if stamp is not None and self._verified.get(digest) == stamp:
                return stamp[0]
        actual, size = self.hash_stored(digest)
        if actual != digest:
            raise BlobCorruptError(digest, f"stored bytes hash to {actual} (changed or truncated on disk)")
        if stamp is not None:
            with self._lock:
                self._verified[digest] = stamp
        return size

    def _stamp(self, digest: str) -> tuple[int, int] | None:
        if not self.local:
            return None
        try:
            st = Path(self.path_of(digest)).stat()
        except FileNotFoundError:
            raise BlobNotFoundError(digest, f"not in store {self.url}") from None
        return st.st_size, st.st_mtime_ns

    def read_bytes(self, digest: str) -> bytes:
        """Return the blob's bytes, verified.

        Raises:
            BlobNotFoundError: no such blob.
            BlobCorruptError: the bytes do not hash to ``digest``.
        """
        with self.open(digest) as handle:
            data = handle.read()
        actual = hashlib.sha256(data).hexdigest()
        if actual != digest:
            raise BlobCorruptError(digest, f"stored bytes hash to {actual} (changed or truncated on disk)")
        return bytes(data)

    def get_file(self, digest: str, dest: str | Path) -> Path:
        """Copy the blob to the local file ``dest`` atomically, verifying its hash on the way.

        Raises:
            BlobNotFoundError: no such blob.
            BlobCorruptError: the bytes do not hash to ``digest`` (``dest`` is then left untouched).
        """
        dest = Path(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.part")
        hasher = hashlib.sha256()
        try:
            with self.open(digest) as reader, open(tmp, "wb") as writer:
                while chunk := reader.read(CHUNK):
                    hasher.update(chunk)
                    writer.write(chunk)
            if hasher.hexdigest() != digest:
                raise BlobCorruptError(digest, f"stored bytes hash to {hasher.hexdigest()} (changed or truncated)")
            tmp.replace(dest)
        finally:
            tmp.unlink(missing_ok=True)
        return dest


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
