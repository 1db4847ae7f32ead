"""Test helpers for code that uses the hub.

Sample folders, a fresh PostgreSQL database, an S3 server and a live REST server. Conftest files
import the fixtures by name, e.g.::

    from seedlens.hub.testing import live_server, moto_endpoint, pg_server_url, pg_url  # noqa: F401

PostgreSQL: ``SEEDLENS_TEST_PG_URL`` names a server database (``scripts/postgres.sh`` starts one);
each test gets its own fresh database, dropped afterwards. Without the variable the PostgreSQL tests
skip with the reason shown, except under ``CI=true`` where they fail.
"""

from __future__ import annotations

import csv
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

PG_ENV = "SEEDLENS_TEST_PG_URL"


# ---- data ----------------------------------------------------------------------------------------


def write_images(folder: Path, n: int, *, shape: Sequence[int] = (1, 8, 8), seed: int = 0, suffix: str = ".npy",
                 prefix: str = "s", start: int = 0) -> dict[str, np.ndarray]:
    """Write ``n`` random images ``(C, H, W)`` as ``.npy`` or ``.png``; return sample id -> array as read back."""
    from seedlens.io import write_png

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    out: dict[str, np.ndarray] = {}
    for i in range(start, start + n):
        name = f"{prefix}{i:03d}"
        array: np.ndarray
        if suffix == ".png":
            array = rng.integers(0, 255, size=tuple(shape), dtype=np.uint8)
            write_png(folder / f"{name}.png", array)
        else:
            array = rng.random(tuple(shape), dtype=np.float32)
            np.save(folder / f"{name}{suffix}", array)
        out[name] = array
    return out


def write_volume(path: Path, shape: Sequence[int] = (4, 6, 5), spacing: Sequence[float] = (2.0, 0.5, 0.5),
                 seed: int = 0) -> np.ndarray:
    """Write a NIfTI volume ``(D, H, W)`` with the given voxel spacing; return the array ``(1, D, H, W)``."""
    from seedlens.io import write_nifti

    array = np.random.default_rng(seed).random(tuple(shape), dtype=np.float32)
    write_nifti(path, array, spacing=spacing)
    return array[None]


def write_dicom_series(folder: Path, n_slices: int = 3, size: int = 6, *, patient_name: str = "DOE^JANE",
                       patient_id: str = "PID-12345", seed: int = 0, series_uid: str | None = None) -> np.ndarray:
    """Write a CT series (one file per slice) carrying patient identifiers; return the HU volume ``(D, H, W)``."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    stored = rng.integers(0, 2000, size=(n_slices, size, size)).astype(np.int16)
    series_uid = series_uid or generate_uid()
    for index in range(n_slices):
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = CTImageStorage
        meta.MediaStorageSOPInstanceUID = generate_uid()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = Dataset()
        ds.file_meta = meta
        ds.SOPClassUID, ds.SOPInstanceUID = CTImageStorage, meta.MediaStorageSOPInstanceUID
        ds.Modality = "CT"
        ds.PatientName, ds.PatientID, ds.PatientBirthDate = patient_name, patient_id, "19700101"
        ds.PatientAddress, ds.InstitutionName = "1 Main Street", "General Hospital"
        ds.Manufacturer = "SeedScan"
        ds.StudyInstanceUID, ds.SeriesInstanceUID = "1.2.826.0.1.3680043.8.498.7", series_uid
        ds.InstanceNumber = index + 1
        ds.ImagePositionPatient = [0.0, 0.0, float(index) * 1.5]
        ds.ImageOrientationPatient = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
        ds.PixelSpacing = [0.5, 0.5]
        ds.SliceThickness = 1.5
        ds.RescaleSlope, ds.RescaleIntercept = 1.0, -1024.0
        ds.Rows = ds.Columns = size
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
        ds.PixelData = stored[index].astype("<i2").tobytes()
        ds.save_as(folder / f"IM{index:04d}.dcm", enforce_file_format=True)
    return stored.astype(np.float32) - 1024.0


def write_envi(folder: Path, name: str, bands: int = 4, height: int = 5, width: int = 6, *, seed: int = 0,
               data_suffix: str = ".img") -> np.ndarray:
    """Write an ENVI cube (BSQ float32 with wavelengths) as ``name.hdr`` + ``name<data_suffix>``; return it."""
    folder.mkdir(parents=True, exist_ok=True)
    cube = np.random.default_rng(seed).random((bands, height, width), dtype=np.float32)
    waves = ", ".join(f"{400 + 10 * b:.1f}" for b in range(bands))
    (folder / f"{name}.hdr").write_text(
        "ENVI\ndescription = {seedlens test cube}\n"
        f"samples = {width}\nlines = {height}\nbands = {bands}\nheader offset = 0\nfile type = ENVI Standard\n"
        f"data type = 4\ninterleave = bsq\nbyte order = 0\nwavelength = {{{waves}}}\n"
    )
    cube.astype("<f4").tofile(folder / f"{name}{data_suffix}")
    return cube


def write_labels(path: Path, rows: Sequence[dict[str, Any]], columns: Sequence[str] | None = None) -> Path:
    """Write a labels CSV from dict rows (columns: the given order, else the first row's keys)."""
    columns = list(columns or rows[0].keys())
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: row.get(k, "") for k in columns})
    return path


# ---- PostgreSQL ----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def pg_server_url() -> str:
    """The URL of the PostgreSQL test server; skip (or fail under CI=true) without ``SEEDLENS_TEST_PG_URL``."""
    url = os.environ.get(PG_ENV)
    if not url:
        reason = f"{PG_ENV} is not set: PostgreSQL hub tests need a server (source scripts/postgres.sh start)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true but {reason}")
        pytest.skip(reason)
    return url


@pytest.fixture
def pg_databases(pg_server_url: str) -> Iterator[Callable[[], str]]:
    """Factory fixture: each call creates a fresh, empty PostgreSQL database and returns its URL; all are dropped."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin = create_engine(pg_server_url, isolation_level="AUTOCOMMIT")
    names: list[str] = []

    def make() -> str:
        name = f"seedlens_t_{uuid.uuid4().hex[:12]}"
        try:
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
        except Exception as err:
            if os.environ.get("CI", "").lower() == "true":
                raise
            pytest.skip(f"PostgreSQL at {PG_ENV} is not reachable: {err}")
        names.append(name)
        return make_url(pg_server_url).set(database=name).render_as_string(hide_password=False)

    try:
        yield make
    finally:
        with admin.connect() as conn:
            for name in names:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def pg_url(pg_databases: Callable[[], str]) -> str:
    """A fresh, empty PostgreSQL database for one test (dropped afterwards)."""
    return pg_databases()


# ---- S3 ------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """Start a moto S3 server on a free loopback port for the session; yield its endpoint URL."""
    pytest.importorskip("moto.server", reason="moto[server] is needed for the S3 tests (pip install 'seedlens[test]')")
    pytest.importorskip("s3fs", reason="s3fs is needed for the S3 tests (pip install 'seedlens[s3]')")
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def s3_options(endpoint: str) -> dict[str, Any]:
    """fsspec/s3fs storage options for the moto server at ``endpoint``."""
    return {"key": "test", "secret": "test", "client_kwargs": {"endpoint_url": endpoint}}


def make_bucket(endpoint: str) -> str:
    """Create a fresh bucket on the moto server; return its name."""
    import s3fs

    name = f"seedlens-{uuid.uuid4().hex[:10]}"
    fs = s3fs.S3FileSystem(**s3_options(endpoint))
    fs.mkdir(name)
    return name


# ---- live REST server ----------------------------------------------------------------------------


def free_port() -> int:
    """Return a TCP port that was free on 127.0.0.1 a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LiveServer:
    """A uvicorn server running an ASGI app in a thread on a loopback port."""

    def __init__(self, app: Any) -> None:
        import uvicorn

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.port = int(self.sock.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def start(self) -> LiveServer:
        """Start serving; return once the server accepts connections."""
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        """Stop serving and wait for the thread."""
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()


@pytest.fixture
def live_server() -> Iterator[Callable[[Any], LiveServer]]:
    """Factory fixture: ``live_server(app)`` serves ``app`` on a loopback port until the test ends."""
    servers: list[LiveServer] = []

    def start(app: Any) -> LiveServer:
        server = LiveServer(app).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()
