"""Content-addressed blob store: dedup, atomic writes, verification, traversal-proof addresses."""

from __future__ import annotations

import hashlib
import os
import socket
from pathlib import Path

import pytest

from seedlens.hub.errors import BlobCorruptError, BlobNotFoundError, InvalidNameError, ReadOnlyHubError
from seedlens.hub.store import BlobStore


def test_put_dedups_and_reads_back_verified(tmp_path):
    store = BlobStore(tmp_path / "store")
    source = tmp_path / "a.bin"
    source.write_bytes(b"hello" * 1000)
    first = store.put_file(source)
    again = store.put_bytes(b"hello" * 1000)
    assert first.digest == hashlib.sha256(b"hello" * 1000).hexdigest() == again.digest
    assert first.created and not again.created
    assert list(store.iter_digests()) == [first.digest]
    assert store.read_bytes(first.digest) == b"hello" * 1000
    copy = store.get_file(first.digest, tmp_path / "out" / "copy.bin")
    assert copy.read_bytes() == b"hello" * 1000
    assert store.path_of(first.digest).endswith(f"blobs/{first.digest[:2]}/{first.digest[2:4]}/{first.digest}")
    assert not any((tmp_path / "store" / "tmp").iterdir())


def test_move_takes_the_file(tmp_path):
    store = BlobStore(tmp_path / "store")
    source = tmp_path / "x.bin"
    source.write_bytes(b"abc")
    blob = store.put_file(source, move=True)
    assert not source.exists() and store.read_bytes(blob.digest) == b"abc"


def test_changed_bytes_are_detected_on_read(tmp_path):
    store = BlobStore(tmp_path / "store")
    blob = store.put_bytes(b"original content")
    Path(store.path_of(blob.digest)).write_bytes(b"tampered content")
    with pytest.raises(BlobCorruptError, match="changed or truncated"):
        store.read_bytes(blob.digest)
    with pytest.raises(BlobCorruptError):
        store.get_file(blob.digest, tmp_path / "dest")
    assert not (tmp_path / "dest").exists()
    with pytest.raises(BlobCorruptError):
        store.ensure_verified(blob.digest)
    assert not store.verify(blob.digest)


def test_verification_is_cached_until_the_file_changes(tmp_path):
    store = BlobStore(tmp_path / "store")
    blob = store.put_bytes(b"x" * 100)
    assert store.ensure_verified(blob.digest) == 100
    path = Path(store.path_of(blob.digest))
    path.write_bytes(b"y" * 101)
    with pytest.raises(BlobCorruptError):
        store.ensure_verified(blob.digest)


@pytest.mark.parametrize("bad", ["../../etc/passwd", "A" * 64, "abc", "0" * 63 + "/", ""])
def test_addresses_must_be_sha256(tmp_path, bad):
    store = BlobStore(tmp_path / "store")
    with pytest.raises(InvalidNameError):
        store.path_of(bad)


def test_missing_blob(tmp_path):
    store = BlobStore(tmp_path / "store")
    with pytest.raises(BlobNotFoundError):
        store.read_bytes("0" * 64)
    with pytest.raises(BlobNotFoundError):
        store.size("0" * 64)


def test_read_only_store_refuses_writes(tmp_path):
    store = BlobStore(tmp_path / "store", read_only=True)
    with pytest.raises(ReadOnlyHubError):
        store.put_bytes(b"x")


def test_clean_tmp_removes_files_of_dead_writers_only(tmp_path):
    store = BlobStore(tmp_path / "store")
    tmp = store.tmp_dir()
    assert tmp is not None
    host = socket.gethostname()
    dead = tmp / f"{host}.999999999.deadbeef"
    alive = tmp / f"{host}.{os.getpid()}.cafe"
    dead.write_bytes(b"half")
    alive.write_bytes(b"busy")
    assert store.clean_tmp() == 1
    assert alive.exists() and not dead.exists()


def test_memory_filesystem_store():
    store = BlobStore("memory://seedlens-test-store")
    blob = store.put_bytes(b"in memory")
    assert store.exists(blob.digest) and store.read_bytes(blob.digest) == b"in memory"
    assert store.atomic_put
