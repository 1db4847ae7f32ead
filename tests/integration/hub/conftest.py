"""Fixtures of the hub integration tests: PostgreSQL, moto S3 and a live uvicorn server on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from seedlens.hub.local import LocalHub
from seedlens.hub.testing import (  # noqa: F401 - fixtures are registered by name
    live_server,
    moto_endpoint,
    pg_databases,
    pg_server_url,
    pg_url,
    write_images,
    write_labels,
)


@pytest.fixture(autouse=True)
def isolated_env(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the config, cache and data folders at a temporary home; forget SEEDLENS_* variables."""
    home = tmp_path_factory.mktemp("home")
    for var, sub in (("XDG_CONFIG_HOME", "config"), ("XDG_CACHE_HOME", "cache"), ("XDG_DATA_HOME", "data")):
        monkeypatch.setenv(var, str(home / sub))
    for var in ("SEEDLENS_HUB", "SEEDLENS_TOKEN", "SEEDLENS_CACHE_DIR", "SEEDLENS_STORE_OPTIONS",
                "SEEDLENS_MAX_UPLOAD_BYTES", "SEEDLENS_MAX_PAGE_SIZE"):
        monkeypatch.delenv(var, raising=False)
    return home


@pytest.fixture
def seeds(tmp_path: Path) -> dict:
    """Six .npy images in three lots with a labels CSV."""
    folder = tmp_path / "seeds"
    arrays = write_images(folder, 6)
    rows = [{"sample_id": sid, "species": "wheat" if i < 4 else "barley", "lot": f"L{i // 2}",
             "germination": "normal" if i % 3 else "abnormal", "oil": f"{40 + i}", "tags": "a;b" if i < 3 else "c"}
            for i, sid in enumerate(sorted(arrays))]
    return {"folder": folder, "arrays": arrays, "labels": write_labels(tmp_path / "labels.csv", rows)}


@pytest.fixture
def loaded(tmp_path: Path, seeds: dict) -> Iterator[LocalHub]:
    """A folder hub holding the six seeds."""
    hub = LocalHub.create(tmp_path / "hub")
    hub.import_dir(seeds["folder"], "image", labels=seeds["labels"])
    yield hub
    hub.close()
