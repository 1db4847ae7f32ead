"""Write a 3D heatmap as a NIfTI file that lines up with the CT it was computed from."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from seedlens.atomic import atomic_path
from seedlens.errors import ConfigError, ShapeError


def save_heatmap_nifti(heatmap: Any, path: str | Path, affine: Any = None) -> Path:
    """Write a ``(D, H, W)`` heatmap to ``path`` (``.nii`` or ``.nii.gz``), atomically.

    seedlens arrays are ``(D, H, W)``; NIfTI stores voxels in ``(i, j, k)`` order, which is the reverse
    (see :class:`seedlens.types.ArrayMeta`), so the heatmap is transposed to ``(W, H, D)`` and ``affine`` — the
    ``ArrayMeta.affine`` of the volume, already in the file's ``(i, j, k)`` convention — is written unchanged.
    Opened beside the source scan in a viewer, the heatmap overlays it voxel for voxel. Reading it back with
    seedlens' NIfTI reader (or transposing ``nibabel.load(path).get_fdata()``) gives the ``(D, H, W)`` array.
    A float32 heatmap is written without a copy (the transposed view is written plane by plane); any other dtype
    is converted once to float32, so a 512³ heatmap costs at most one extra 512 MB array.

    Args:
        heatmap: ``(D, H, W)`` (or ``(1, D, H, W)``) values, stored as float32.
        path: Output file; must end in ``.nii`` or ``.nii.gz``; folders are created.
        affine: 4×4 voxel-to-world matrix; identity (1 mm voxels at the origin) if None.

    Returns:
        The path written.

    Raises:
        ShapeError: the heatmap is not 3D or the affine is not 4×4.
        ConfigError: the file name does not end in ``.nii`` or ``.nii.gz``.
    """
    import nibabel as nib

    target = Path(path)
    name = target.name.lower()
    if name.endswith(".nii.gz"):
        suffix = ".nii.gz"
    elif name.endswith(".nii"):
        suffix = ".nii"
    else:
        raise ConfigError(f"NIfTI heatmap path must end in .nii or .nii.gz; got {target}")
    heat = np.asarray(heatmap, dtype=np.float32)
    if heat.ndim == 4 and heat.shape[0] == 1:
        heat = heat[0]
    if heat.ndim != 3:
        raise ShapeError(f"heatmap must be (D, H, W); got shape {heat.shape}")
    matrix = np.eye(4) if affine is None else np.asarray(affine, dtype=np.float64)
    if matrix.shape != (4, 4):
        raise ShapeError(f"affine must be 4×4; got shape {matrix.shape}")
    # A view, not a copy: nibabel writes (i, j, k) in Fortran order, i.e. the (D, H, W) heatmap one plane at a time
    image = nib.Nifti1Image(heat.transpose(2, 1, 0), matrix)
    image.header.set_xyzt_units("mm")
    with atomic_path(target, suffix=suffix) as temporary:
        nib.save(image, temporary)
    return target
