"""Fixtures of the hub unit tests: an isolated user environment and small hubs on SQLite."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from seedlens.hub.local import LocalHub
from seedlens.hub.testing import write_images, write_labels


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
def hub(tmp_path: Path) -> Iterator[LocalHub]:
    """An empty folder hub (SQLite catalog + local blobs)."""
    opened = LocalHub.create(tmp_path / "hub")
    yield opened
    opened.close()


@pytest.fixture
def seeds(tmp_path: Path) -> dict:
    """Six .npy images in three lots with a labels CSV (germination, oil content, tags, a text trait)."""
    folder = tmp_path / "seeds"
    arrays = write_images(folder, 6)
    rows = [
        {"sample_id": sid, "species": "wheat" if i < 4 else "barley", "lot": f"L{i // 2}",
         "germination": "normal" if i % 3 else "abnormal", "oil content": f"{40 + i}.5",
         "colour": "red" if i % 2 else "brown",
         "tags": "batch1;x-ray" if i < 3 else "batch2"}
        for i, sid in enumerate(sorted(arrays))
    ]
    labels = write_labels(tmp_path / "labels.csv", rows)
    return {"folder": folder, "arrays": arrays, "labels": labels, "rows": rows}


@pytest.fixture
def loaded(hub: LocalHub, seeds: dict) -> LocalHub:
    """The hub with the six seeds imported and labelled."""
    hub.import_dir(seeds["folder"], "image", labels=seeds["labels"])
    return hub
