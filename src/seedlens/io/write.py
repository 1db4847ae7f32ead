"""Writers: NIfTI volumes and PNG images, written atomically (temporary file, then rename)."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from seedlens.errors import ConfigError, ShapeError

_NIFTI_SUFFIXES = (".nii.gz", ".nii")


def _atomic_write(path: Path, suffix: str, write: Callable[[Path], None]) -> Path:
    """Run ``write`` on a temporary file beside ``path`` and rename it into place: readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f".tmp{suffix}", dir=path.parent)
    os.close(handle)
    temporary = Path(name)
    try:
        write(temporary)
        temporary.replace(path)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise
    return path


def _nifti_affine(affine: np.ndarray | None, spacing: Sequence[float] | None) -> np.ndarray:
    steps = None
    if spacing is not None:
        steps = np.asarray(spacing, dtype=np.float64)
        if steps.shape != (3,) or not np.all(np.isfinite(steps)) or np.any(steps <= 0):
            raise ConfigError(f"spacing must be 3 positive numbers in (D, H, W) order; got {spacing!r}")
    if affine is None:
        return np.diag([*(steps[::-1] if steps is not None else (1.0, 1.0, 1.0)), 1.0])
    matrix = np.asarray(affine, dtype=np.float64)
    if matrix.shape != (4, 4) or not np.all(np.isfinite(matrix)):
        raise ShapeError(f"affine must be a finite 4×4 matrix; got shape {matrix.shape}")
    if not np.allclose(matrix[3], [0, 0, 0, 1]):
        raise ConfigError(f"affine's last row must be [0, 0, 0, 1]; got {matrix[3].tolist()}")
    if steps is not None:
        implied = np.linalg.norm(matrix[:3, :3], axis=0)[::-1]  # column norms, reordered to (D, H, W)
        if not np.allclose(implied, steps, rtol=1e-4):
            raise ConfigError(
                f"spacing {tuple(steps.tolist())} disagrees with the affine's voxel sizes "
                f"{tuple(implied.round(6).tolist())} (D, H, W); pass one of them"
            )
    return matrix


def write_nifti(
    path: str | Path,
    volume: np.ndarray,
    affine: np.ndarray | None = None,
    spacing: Sequence[float] | None = None,
) -> Path:
    """Write a volume as NIfTI-1 (``.nii`` or ``.nii.gz``), atomically.

    The array is transposed back to the file's ``(x, y, z)`` = ``(W, H, D)`` order, so after
    ``volume, meta = read(a)``, ``read(write_nifti(b, volume, meta.affine))`` gives back the same array and affine.

    Args:
        path: Target file; must end in ``.nii`` or ``.nii.gz``. Missing parent folders are created.
        volume: ``(D, H, W)`` or ``(1, D, H, W)``; any NIfTI dtype (bool is stored as uint8, float16 as float32).
        affine: 4×4 matrix mapping ``(w, h, d, 1)`` to world mm, stored in both sform and qform (code 1).
            NIfTI world is RAS: an LPS affine from a DICOM series needs ``np.diag([-1, -1, 1, 1]) @ affine`` first.
        spacing: ``(D, H, W)`` voxel size in mm, used when ``affine`` is None (identity spacing otherwise);
            if both are given they must agree.

    Returns:
        The path written.

    Raises:
        ShapeError: ``volume`` is not ``(D, H, W)`` or ``(1, D, H, W)``, or ``affine`` is not 4×4.
        ConfigError: Bad suffix, dtype, spacing, or spacing that disagrees with the affine.
    """
    from seedlens.io import _nifti

    target = Path(path).expanduser()
    suffix = next((s for s in _NIFTI_SUFFIXES if target.name.lower().endswith(s)), None)
    if suffix is None:
        raise ConfigError(f"NIfTI path must end in .nii or .nii.gz; got {target.name!r}")
    array = np.asarray(volume)
    if array.ndim == 4 and array.shape[0] == 1:
        array = array[0]
    if array.ndim != 3 or 0 in array.shape:
        raise ShapeError(f"volume must be (D, H, W) or (1, D, H, W); got {np.shape(volume)}")
    if not _nifti.storable(array.dtype):
        raise ConfigError(f"NIfTI cannot store dtype {array.dtype}; use an integer, float or complex array")
    matrix = _nifti_affine(affine, spacing)
    return _atomic_write(target, suffix, lambda temporary: _nifti.save(temporary, array, matrix))


def _png_pixels(image: np.ndarray) -> np.ndarray:
    """Validate an image for PNG and return it as ``(C, H, W)`` uint8/uint16."""
    array = np.asarray(image)
    if array.ndim == 2:
        array = array[None]
    if array.ndim != 3 or array.shape[0] not in (1, 3, 4) or 0 in array.shape:
        raise ShapeError(f"PNG image must be (H, W) or (C, H, W) with C in 1, 3, 4; got {np.shape(image)}")
    if array.dtype == np.bool_:
        return array.astype(np.uint8) * 255
    if array.dtype in (np.uint8, np.uint16):
        return array
    if array.dtype.kind == "f":
        low, high = (float(array.min()), float(array.max())) if np.isfinite(array).all() else (np.nan, np.nan)
        if not (low >= 0.0 and high <= 1.0):
            raise ConfigError(f"a float PNG image must hold finite values in [0, 1]; got range [{low}, {high}]")
        return np.round(array * 255).astype(np.uint8)
    raise ConfigError(f"PNG image dtype must be uint8, uint16, bool or float in [0, 1]; got {array.dtype}")


def write_png(path: str | Path, image: np.ndarray) -> Path:
    """Write an image as PNG, atomically.

    Args:
        path: Target file; must end in ``.png``. Missing parent folders are created.
        image: ``(H, W)`` or ``(C, H, W)`` with C = 1 (grey), 3 (RGB) or 4 (RGBA). uint8 and uint16 are stored
            as given (8- or 16-bit PNG); floats must lie in [0, 1] and are scaled to uint8; bool becomes 0/255.

    Returns:
        The path written.

    Raises:
        ShapeError: The image is not ``(H, W)`` or ``(C, H, W)`` with C in {1, 3, 4}.
        ConfigError: The suffix is not ``.png``, the dtype is unsupported, or float values leave [0, 1].
    """
    from seedlens.io import _raster

    target = Path(path).expanduser()
    if target.suffix.lower() != ".png":
        raise ConfigError(f"PNG path must end in .png; got {target.name!r}")
    encoded = _raster.encode_png(_png_pixels(image))

    def write(temporary: Path) -> None:
        temporary.write_bytes(encoded)

    return _atomic_write(target, ".png", write)
