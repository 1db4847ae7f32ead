"""Fixtures for the data tests: small PNG/NPY writers and a stand-in for ``seedlens.io.read``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from seedlens.types import ArrayMeta, Modality


def _write(path: Path, array: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".npy":
        np.save(path, array)
    else:
        Image.fromarray(np.asarray(array)).save(path)
    return path


def _read(path: Path, modality=None):
    """Read like seedlens.io.read: channel-first arrays and an ArrayMeta."""
    if path.suffix == ".npy":
        array = np.load(path)
    else:
        with Image.open(path) as im:
            raw = np.asarray(im)
        array = raw[None] if raw.ndim == 2 else raw.transpose(2, 0, 1)
    kind = Modality.parse(modality) if modality is not None else Modality.VOLUME if array.ndim == 4 else Modality.IMAGE
    return array, ArrayMeta(modality=kind, source=path)


@pytest.fixture
def write_sample():
    """``write_sample(path, array)``: a PNG (uint8 (H, W) or (H, W, 3)) or an NPY file, parents created."""
    return _write


@pytest.fixture
def fake_reader():
    """A reader with the signature of ``seedlens.io.read``, for PNG and NPY files."""
    return _read
