"""seedlens.io: read images, CT volumes and hyperspectral cubes into channel-first arrays; write NIfTI, Zarr, PNG.

Layouts (see :mod:`seedlens.types`): image ``(C, H, W)``, volume ``(C, D, H, W)`` with C = 1,
cube ``(bands, H, W)``. Every read failure is a typed :class:`~seedlens.errors.ReadError` naming the file.
"""

from seedlens.io.read import list_formats, read, read_meta
from seedlens.io.write import write_envi, write_nifti, write_png, write_zarr

__all__ = ["list_formats", "read", "read_meta", "write_envi", "write_nifti", "write_png", "write_zarr"]
