"""Minimal private writers for the synthetic dataset (NIfTI, PNG, ENVI), independent of ``seedlens.io``."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import nibabel as nib
import numpy as np
from PIL import Image


def write_nifti(path: Path, array: np.ndarray, affine: np.ndarray) -> None:
    """Write a ``(D, H, W)`` array as NIfTI-1; the file's ``(i, j, k)`` axes are ``(W, H, D)``."""
    image = nib.Nifti1Image(np.ascontiguousarray(array.transpose(2, 1, 0)), affine)
    image.header.set_xyzt_units(xyz="mm")
    image.header.set_qform(affine, code=1)
    image.header.set_sform(affine, code=1)
    nib.save(image, str(path))


def write_png(path: Path, array: np.ndarray) -> None:
    """Write a ``(H, W)`` uint8 or uint16 array as a grey PNG."""
    if array.dtype not in (np.uint8, np.uint16):
        raise TypeError(f"write_png needs uint8 or uint16; got {array.dtype}")
    Image.fromarray(np.ascontiguousarray(array)).save(path)  # uint8 -> "L", uint16 -> "I;16"


def write_envi(header: Path, cube: np.ndarray, wavelengths: Sequence[float]) -> Path:
    """Write a ``(bands, H, W)`` cube as ENVI BSQ float32 little-endian: ``header`` (.hdr) and a .img beside it."""
    bands, lines, samples = cube.shape
    data = header.with_suffix(".img")
    np.ascontiguousarray(cube, dtype="<f4").tofile(data)
    waves = ", ".join(f"{w:.2f}" for w in wavelengths)
    header.write_text(
        "ENVI\n"
        "description = {seedlens synthetic seed cube, reflectance}\n"
        f"samples = {samples}\n"
        f"lines = {lines}\n"
        f"bands = {bands}\n"
        "header offset = 0\n"
        "file type = ENVI Standard\n"
        "data type = 4\n"
        "interleave = bsq\n"
        "byte order = 0\n"
        "wavelength units = Nanometers\n"
        f"wavelength = {{{waves}}}\n",
        encoding="ascii",
    )
    return data


def write_rgb_png(path: Path, rgb: np.ndarray) -> None:
    """Write a ``(3, H, W)`` float array in [0, 1] as an 8-bit RGB PNG."""
    array = np.clip(np.round(np.moveaxis(np.asarray(rgb, dtype=np.float64), 0, -1) * 255.0), 0, 255).astype(np.uint8)
    Image.fromarray(array).save(path)
