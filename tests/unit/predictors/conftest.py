"""A tiny multi-modal manifest in real file formats (NIfTI volume, ENVI cube, PNG image, table columns).

The label depends on the volume (a bright blob of strength ``a``) and, through an interaction, on the image
(red tint ``b``): dead when ``a > 0.6`` and ``b > 0.5``, abnormal when ``a > 0.6``, normal otherwise.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from seedlens.data.synthetic._files import write_envi, write_nifti

BANDS = 6
WAVELENGTHS = np.linspace(450, 950, BANDS)


def write_toy_manifest(root: Path, n: int = 60, seed: int = 0, missing_every: int = 0) -> Path:
    """Write ``n`` samples (60% train, 20% val, 20% test); every ``missing_every``-th sample lacks its CT."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(n):
        a, b, c = rng.uniform(size=3)
        volume = rng.normal(0.0, 0.2, size=(10, 10, 10)).astype(np.float32)
        volume[3:7, 3:7, 3:7] += 2.0 * a
        image = np.clip(rng.normal(0.4, 0.05, size=(12, 12, 3)), 0, 1)
        image[..., 0] = np.clip(image[..., 0] + 0.5 * b, 0, 1)
        cube = (rng.normal(0.3, 0.02, size=(BANDS, 8, 8)) + 0.2 * c * np.linspace(0, 1, BANDS)[:, None, None])
        sid = f"S{i:03d}"
        missing_ct = missing_every and i % missing_every == 0
        if not missing_ct:
            write_nifti(root / f"{sid}_ct.nii.gz", volume, np.eye(4))
        write_envi(root / f"{sid}_hsi.hdr", cube.astype(np.float32), WAVELENGTHS)
        Image.fromarray((image * 255).astype(np.uint8)).save(root / f"{sid}_rgb.png")
        label = "dead" if a > 0.6 and b > 0.5 else "abnormal" if a > 0.6 else "normal"
        split = "train" if i < 0.6 * n else "val" if i < 0.8 * n else "test"
        rows.append({
            "sample_id": sid, "split": split, "ct": "" if missing_ct else f"{sid}_ct.nii.gz",
            "hsi": f"{sid}_hsi.hdr", "rgb": f"{sid}_rgb.png", "weight": f"{3 + c + rng.normal(0, 0.05):.3f}",
            "lot": f"L{i % 3}", "germination": label, "oil": f"{40 + 4 * c + 2 * a:.3f}",
        })
    manifest = root / "manifest.csv"
    with manifest.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return manifest


@pytest.fixture(scope="session")
def toy_manifest(tmp_path_factory) -> Path:
    """60 samples, every 7th without CT."""
    return write_toy_manifest(tmp_path_factory.mktemp("toy_fusion"), missing_every=7)


@pytest.fixture(scope="session")
def fitted_toy(toy_manifest):
    """A FusionPredictor trained for a few epochs on the toy manifest (germination + oil)."""
    from seedlens.predictors import FusionPredictor, read_manifest

    data = read_manifest(toy_manifest)
    model = FusionPredictor(targets=("germination", "oil"), epochs=4, device="cpu", dim=16).fit(data)
    return model, data


@pytest.fixture
def toy_writer():
    """``write_toy_manifest(root, n=60, seed=0, missing_every=0) -> manifest path``."""
    return write_toy_manifest
