"""SIGKILL during an import or an upload: no catalog row without its blob, no half-written blob, rerun completes."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx

from seedlens.hub.local import LocalHub
from seedlens.hub.store import sha256_file
from seedlens.hub.testing import free_port, write_images

IMPORT_SCRIPT = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from seedlens.hub import importer, store
    from seedlens.hub.local import LocalHub

    hub_path, folder, marker, mode = sys.argv[1:5]
    importer.BATCH = 2
    calls = {"n": 0}
    original_copy, original_write = store.BlobStore._copy_hashing, importer._write_batch

    def slow_copy(src, dst):
        calls["n"] += 1
        if mode == "blob" and calls["n"] == 3:  # stop for good half-way through the third blob
            data = Path(src).read_bytes()
            with open(dst, "wb") as out:
                out.write(data[: len(data) // 2])
                out.flush()
            Path(marker).write_text("now")
            time.sleep(60)
        return original_copy(src, dst)

    def slow_write(session, batch, *args):
        if mode == "commit" and calls["n"] >= 4:  # blobs of the 2nd batch stored, its rows not yet
            Path(marker).write_text("now")
            time.sleep(60)
        return original_write(session, batch, *args)

    store.BlobStore._copy_hashing = staticmethod(slow_copy)
    importer._write_batch = slow_write
    LocalHub.from_location(hub_path).import_dir(folder, "image")
""")


def wait_for(path: Path, process: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the child never reached the kill point"
        time.sleep(0.02)


def assert_consistent(hub: LocalHub) -> None:
    """Every blob file hashes to its name and every catalog row has its blob."""
    for digest in hub.store.iter_digests():
        assert sha256_file(hub.store.path_of(digest))[0] == digest
    problems = hub.verify().problems
    assert not [p for p in problems if "missing" in p or "changed" in p], problems


def kill_import(tmp_path: Path, mode: str) -> LocalHub:
    hub = LocalHub.create(tmp_path / "hub")
    folder = tmp_path / "seeds"
    write_images(folder, 6)
    marker = tmp_path / "marker"
    child = subprocess.Popen([sys.executable, "-c", IMPORT_SCRIPT, str(tmp_path / "hub"), str(folder), str(marker),
                              mode], stderr=subprocess.PIPE)
    wait_for(marker, child)
    os.kill(child.pid, signal.SIGKILL)
    assert child.wait(timeout=10) == -signal.SIGKILL
    return hub


def test_sigkill_while_writing_a_blob(tmp_path):
    hub = kill_import(tmp_path, "blob")
    assert hub.count() == 2  # the first batch was committed
    assert_consistent(hub)
    assert list(hub.store.tmp_dir().iterdir())  # the half-written bytes never reached blobs/
    report = hub.import_dir(tmp_path / "seeds", "image")
    assert report.added_samples == 4 and hub.count() == 6
    assert hub.verify().ok and not list(hub.store.tmp_dir().iterdir())
    hub.close()


def test_sigkill_between_blobs_and_their_rows(tmp_path):
    hub = kill_import(tmp_path, "commit")
    assert hub.count() == 2 and len(list(hub.store.iter_digests())) == 4
    assert_consistent(hub)
    assert sum("extra blob" in p for p in hub.verify().problems) == 2  # stored, not yet referenced
    report = hub.import_dir(tmp_path / "seeds", "image")
    assert report.added_samples == 4 and report.new_blobs == 2 and hub.verify().ok
    hub.close()


def start_server(hub_path: Path, port: int) -> subprocess.Popen:
    command = [sys.executable, "-c", "from seedlens.cli.main import main; main()", "hub", "serve", "--hub",
               str(hub_path), "--port", str(port)]
    process = subprocess.Popen(command, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return process
        except httpx.TransportError:
            pass
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.1)


def test_sigkill_of_the_server_during_an_upload(tmp_path):
    hub = LocalHub.create(tmp_path / "hub")
    token = hub.create_token("up", "write")[1]
    hub.close()
    write_images(tmp_path / "one", 1, shape=(1, 256, 256))
    data = (tmp_path / "one" / "s000.npy").read_bytes()
    port = free_port()
    server = start_server(tmp_path / "hub", port)
    with socket.create_connection(("127.0.0.1", port)) as sock:
        head = (f"POST /api/v1/samples/u1/acquisitions?filename=u1.npy&modality=image HTTP/1.1\r\n"
                f"Host: 127.0.0.1\r\nAuthorization: Bearer {token}\r\nContent-Type: application/octet-stream\r\n"
                f"Content-Length: {len(data)}\r\n\r\n").encode()
        sock.sendall(head + data[: len(data) // 2])
        time.sleep(0.5)
        os.kill(server.pid, signal.SIGKILL)
        server.wait(timeout=10)
    hub = LocalHub.from_location(tmp_path / "hub")
    assert hub.count() == 0 and list(hub.store.iter_digests()) == []
    hub.close()

    server = start_server(tmp_path / "hub", port)
    try:
        response = httpx.post(f"http://127.0.0.1:{port}/api/v1/samples/u1/acquisitions", content=data,
                              params={"filename": "u1.npy", "modality": "image"},
                              headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 201, response.text
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=10)
    hub = LocalHub.from_location(tmp_path / "hub")
    assert hub.count() == 1 and hub.verify().ok
    hub.close()
