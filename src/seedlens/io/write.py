"""Writers: NIfTI and Zarr volumes, PNG images, ENVI cubes, written atomically (temporary, then renamed)."""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from seedlens.atomic import atomic_path
from seedlens.errors import ConfigError, ShapeError

_NIFTI_SUFFIXES = (".nii.gz", ".nii")
_ZARR_CHUNKS = (64, 64, 64)  # 1 MiB of float32: a reader holds one such chunk besides its result


def _atomic_write(path: Path, suffix: str, write: Callable[[Path], None]) -> Path:
    """Run ``write`` on a temporary file beside ``path`` and rename it into place: readers never see half a file."""
    with atomic_path(path, suffix=f".tmp{suffix}") as temporary:
        write(temporary)
    return path


def _volume_affine(affine: np.ndarray | None, spacing: Sequence[float] | None) -> np.ndarray:
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
    matrix = _volume_affine(affine, spacing)
    return _atomic_write(target, suffix, lambda temporary: _nifti.save(temporary, array, matrix))


def _atomic_folder(path: Path, write: Callable[[Path], None]) -> Path:
    """Run ``write`` on a new folder beside ``path`` and rename it into place, replacing what ``path`` held."""
    path.parent.mkdir(parents=True, exist_ok=True)
    token = secrets.token_hex(4)
    temporary, old = path.with_name(f".{path.name}.{token}.tmp"), path.with_name(f".{path.name}.{token}.old")
    temporary.mkdir()  # not mkdtemp: the store gets the usual permissions
    try:
        write(temporary)
        if path.exists():
            path.rename(old)
        try:
            temporary.rename(path)
        except BaseException:
            if old.exists():
                old.rename(path)
            raise
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    shutil.rmtree(old, ignore_errors=True)
    return path


def _zarr_chunks(chunks: Sequence[int] | None) -> tuple[int, int, int]:
    if chunks is None:
        return _ZARR_CHUNKS
    sizes = tuple(chunks)
    if len(sizes) != 3 or not all(isinstance(c, (int, np.integer)) and c > 0 for c in sizes):
        raise ConfigError(f"chunks must be 3 positive integers in (D, H, W) order; got {chunks!r}")
    return int(sizes[0]), int(sizes[1]), int(sizes[2])


def write_zarr(
    path: str | Path,
    volume: np.ndarray,
    affine: np.ndarray | None = None,
    spacing: Sequence[float] | None = None,
    *,
    ome: bool = True,
    chunks: Sequence[int] | None = None,
) -> Path:
    """Write a volume as a Zarr store (format 2, which zarr-python 2 and 3 read), atomically.

    With ``ome=True`` the folder is an OME-Zarr image (OME-NGFF 0.4): a group whose array ``0`` holds the volume as
    ``(z, y, x)`` (``(c, z, y, x)`` with several channels) and whose ``multiscales`` metadata give the voxel size
    and origin in millimetres. With ``ome=False`` it is one plain array; its ``attrs["seedlens"]`` keep the spacing
    and the full affine. Either way ``read(write_zarr(path, volume, meta.affine))`` gives back the array, spacing
    and affine. Data is encoded chunk by chunk, so a memory-mapped volume is never loaded whole. An existing
    Zarr store at ``path`` is replaced.

    Args:
        path: Target folder, conventionally ending in ``.zarr``. Missing parent folders are created.
        volume: ``(D, H, W)`` or ``(C, D, H, W)``; any numeric dtype (stored in native byte order).
        affine: 4×4 matrix mapping ``(w, h, d, 1)`` to world mm (see :class:`~seedlens.types.ArrayMeta`). OME-Zarr
            holds only a scale and a translation, so with ``ome=True`` the affine must be diagonal (positive) plus
            a translation; a plain array stores any affine.
        spacing: ``(D, H, W)`` voxel size in mm, used when ``affine`` is None (1 mm otherwise); if both are given
            they must agree.
        ome: Write an OME-Zarr image (True) or a plain array (False).
        chunks: ``(D, H, W)`` chunk shape (each channel is chunked on its own); 64³ by default, clipped to the
            volume.

    Returns:
        The path written.

    Raises:
        ShapeError: ``volume`` is not 3D or 4D, is empty, or ``affine`` is not 4×4.
        ConfigError: Bad dtype, spacing, chunks, an affine OME-Zarr cannot hold, spacing that disagrees with the
            affine, or a ``path`` that exists and is not a Zarr store (it is never replaced).
        ImportError: The optional ``zarr`` package is missing (``pip install 'seedlens[zarr]'``).
    """
    from seedlens.io import _zarr

    target = Path(path).expanduser()
    if target.exists() and not (target.is_dir() and (_zarr.is_store(target) or not any(target.iterdir()))):
        raise ConfigError(f"{target} exists and is not a Zarr store; refusing to replace it")
    array = np.asarray(volume)
    if array.ndim == 3:
        array = array[None]
    if array.ndim != 4 or 0 in array.shape:
        raise ShapeError(f"volume must be (D, H, W) or (C, D, H, W); got {np.shape(volume)}")
    if array.dtype.kind not in "biufc":
        raise ConfigError(f"Zarr volumes must be numeric; got dtype {array.dtype}")
    matrix = _volume_affine(affine, spacing)
    linear = matrix[:3, :3]
    if ome and (np.count_nonzero(linear - np.diag(np.diag(linear))) or np.any(np.diag(linear) <= 0)):
        raise ConfigError(
            "OME-Zarr stores a positive scale and a translation only; the affine has rotation, shear or flips "
            f"({linear.round(6).tolist()}): write with ome=False to keep it, or write NIfTI"
        )
    sizes = _zarr_chunks(chunks)
    data = array if array.dtype.isnative else array.astype(array.dtype.newbyteorder("="))

    def write(folder: Path) -> None:
        _zarr.save(folder, data, matrix, sizes, ome=ome, name=target.name.removesuffix(".zarr"))

    return _atomic_folder(target, write)


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


def write_envi(path: str | Path, cube: np.ndarray, wavelengths: Sequence[float] | None = None,
               description: str = "seedlens cube") -> Path:
    """Write a ``(bands, H, W)`` cube as ENVI (BSQ, float32 little-endian): ``path`` (.hdr) and a ``.img`` beside it.

    The data file is written first and the header last, each atomically, so a reader never finds a header
    whose data file is missing or half written.

    Args:
        path: Header file; must end in ``.hdr``.
        cube: ``(bands, H, W)`` array of real numbers.
        wavelengths: One centre wavelength per band in nm, or None.
        description: The header's description field.

    Returns:
        The header path.

    Raises:
        ShapeError: ``cube`` is not 3-D.
        ConfigError: Bad suffix, or as many wavelengths as there are not bands.
    """
    target = Path(path).expanduser()
    if target.suffix.lower() != ".hdr":
        raise ConfigError(f"ENVI header path must end in .hdr; got {target.name!r}")
    array = np.asarray(cube)
    if array.ndim != 3 or 0 in array.shape:
        raise ShapeError(f"cube must be (bands, H, W); got {array.shape}")
    bands, lines, samples = array.shape
    if wavelengths is not None and len(wavelengths) != bands:
        raise ConfigError(f"{len(wavelengths)} wavelengths for {bands} bands")
    data = np.ascontiguousarray(array, dtype="<f4").tobytes()
    text = ("ENVI\n" f"description = {{{description}}}\n" f"samples = {samples}\n" f"lines = {lines}\n"
            f"bands = {bands}\n" "header offset = 0\n" "file type = ENVI Standard\n" "data type = 4\n"
            "interleave = bsq\n" "byte order = 0\n")
    if wavelengths is not None:
        text += "wavelength units = Nanometers\n" f"wavelength = {{{', '.join(f'{w:.7g}' for w in wavelengths)}}}\n"
    def write_data(temporary: Path) -> None:
        temporary.write_bytes(data)

    def write_header(temporary: Path) -> None:
        temporary.write_text(text, encoding="ascii")

    _atomic_write(target.with_suffix(".img"), ".img", write_data)
    _atomic_write(target, ".hdr", write_header)
    return target
