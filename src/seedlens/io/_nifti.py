"""NIfTI-1/2 (and Analyze pairs) through nibabel: file ``(x, y, z)`` <-> volume ``(1, D, H, W)`` = ``(1, z, y, x)``.

An uncompressed, unscaled file in native byte order is memory-mapped (copy-on-write): the volume is a transposed
view of the map and nothing is read until it is used. Scaled data (scl_slope/scl_inter), gzip and non-native byte
order are read whole: the values must be computed or byte-swapped, and seedlens arrays are native so that
``torch.from_numpy`` and dtype comparisons work on them.
"""

from __future__ import annotations

import gzip
import struct
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np

from seedlens.errors import ReadError
from seedlens.io._guard import corrupt_on_error
from seedlens.io._layout import native, relabel
from seedlens.types import ArrayMeta, Modality

_NIBABEL_SUFFIXES = (".nii", ".nii.gz", ".hdr", ".img", ".hdr.gz", ".img.gz")


def _load(path: Path) -> Any:
    """nibabel picks the image class by suffix; a file recognised by its magic alone is parsed from bytes."""
    if path.name.lower().endswith(_NIBABEL_SUFFIXES):
        return nib.load(path)
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    single = nib.Nifti2Image if data[:4] in (struct.pack("<i", 540), struct.pack(">i", 540)) else nib.Nifti1Image
    return single.from_bytes(data)


def _image_and_shape(path: Path) -> tuple[Any, tuple[int, ...]]:
    """The nibabel image (nothing read but its header) and its shape without trailing unit axes."""
    image = _load(path)
    if not isinstance(image, nib.spatialimages.SpatialImage):
        raise ReadError(path, f"nibabel opened a {type(image).__name__}, not a NIfTI/Analyze image")
    shape = tuple(int(n) for n in image.shape)
    while len(shape) > 3 and shape[-1] == 1:
        shape = shape[:-1]
    if len(shape) > 3:
        raise ReadError(
            path,
            f"is a {len(shape)}D NIfTI of shape {shape}; seedlens reads 3D volumes only "
            "(split the series into 3D files, e.g. with nibabel.funcs.four_to_three)",
        )
    return image, shape


def _zooms(header: Any, shape: tuple[int, ...]) -> tuple[float, ...]:
    """Voxel size in the volume's ``(D, H, W)`` order."""
    zooms = tuple(float(z) for z in header.get_zooms()[: len(shape)]) + (1.0,) * (3 - len(shape))
    return zooms[::-1]


def read_meta(path: Path, hint: Modality | None) -> ArrayMeta:
    """The metadata of a NIfTI file from its header alone (a gzipped volume is not decompressed)."""
    with corrupt_on_error(path, "cannot read NIfTI"):
        image, shape = _image_and_shape(path)
        return ArrayMeta(modality=hint or Modality.VOLUME, spacing=_zooms(image.header, shape),
                         affine=np.array(image.affine, dtype=np.float64), source=path,
                         extra={"shape": (1, *(*shape, 1, 1)[:3][::-1])})


def read(path: Path, hint: Modality | None) -> tuple[np.ndarray, ArrayMeta]:
    with corrupt_on_error(path, "cannot read NIfTI"):
        image, shape = _image_and_shape(path)
        header: Any = image.header
        data = np.asanyarray(image.dataobj)  # nibabel maps uncompressed files (mode "c") and applies no unit scaling
        raw_dtype = np.dtype(header.get_data_dtype())
    if raw_dtype.kind in "iub" and data.dtype == np.float64:  # scl_slope applied to integers: float32 suffices
        data = data.astype(np.float32)
    data = data.reshape((*shape, 1, 1)[:3])  # 2D files get a z axis of length 1
    volume = native(data.transpose(2, 1, 0)[None])  # a view of the map if mapped, else one array of our own
    modality = relabel(volume, Modality.VOLUME, hint, path)
    extra: dict[str, Any] = {"datatype": str(raw_dtype), "format": type(image).__name__}
    for code in ("qform_code", "sform_code"):
        if code in header:
            extra[code] = int(header[code])
    return volume, ArrayMeta(
        modality=modality,
        spacing=_zooms(header, shape),
        affine=np.array(image.affine, dtype=np.float64),
        source=path,
        extra=extra,
    )


_WIDEN: dict[np.dtype, np.dtype] = {np.dtype(np.bool_): np.dtype(np.uint8), np.dtype(np.float16): np.dtype(np.float32)}
_NIFTI_DTYPES = {np.dtype(t) for t in ("u1", "i1", "u2", "i2", "u4", "i4", "u8", "i8", "f4", "f8", "c8", "c16")}


def storable(dtype: np.dtype) -> bool:
    return _WIDEN.get(dtype, dtype).newbyteorder("=") in _NIFTI_DTYPES


def save(path: Path, volume: np.ndarray, affine: np.ndarray) -> None:
    """Write a validated ``(D, H, W)`` volume with a 4×4 affine; sform and qform both set (code 1, scanner)."""
    data = native(volume.astype(_WIDEN.get(volume.dtype, volume.dtype), copy=False)).transpose(2, 1, 0)
    image = nib.Nifti1Image(data, affine, dtype=data.dtype)
    image.set_sform(affine, code=1)
    image.set_qform(affine, code=1)
    image.header.set_xyzt_units(xyz="mm")
    nib.save(image, path)
