"""Render one sample's heatmap the way its modality is best looked at."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from seedlens.types import ArrayMeta, Modality


def render_heatmap(
    array: np.ndarray,
    heatmap: np.ndarray,
    meta: ArrayMeta,
    out_stem: Path,
    title: str | None = None,
    mask: np.ndarray | None = None,
) -> list[Path]:
    """Write the pictures of one heatmap next to ``out_stem`` and return their paths.

    Images get a PNG overlay; volumes a tri-planar PNG drawn at the voxel spacing plus a NIfTI heatmap carrying the
    input's affine; cubes a false-colour PNG with the heatmap overlaid.

    Args:
        array: The sample as read, ``(C, H, W)``, ``(C, D, H, W)`` or ``(bands, H, W)``.
        heatmap: Its heatmap ``(1, *spatial)``, normalised to [0, 1] for display.
        meta: The reader's metadata (modality, spacing, affine, wavelengths).
        out_stem: Output path without suffix; ``.png`` / ``.nii.gz`` are appended.
        title: Picture title.
        mask: Optional ground-truth anomaly map ``(1, *spatial)`` drawn as a contour (volumes).
    """
    from seedlens.explain.render import (
        cube_false_colour_png,
        overlay_png,
        save_heatmap_nifti,
        volume_triplanar_png,
    )

    out_stem.parent.mkdir(parents=True, exist_ok=True)
    png = out_stem.with_name(out_stem.name + ".png")
    heat = np.asarray(heatmap, dtype=np.float32).reshape(heatmap.shape[-(array.ndim - 1) :])
    if meta.modality is Modality.VOLUME:
        volume_triplanar_png(
            array, heat, png, mask=None if mask is None else mask.reshape(heat.shape), title=title,
            spacing=meta.voxel_size if meta.voxel_size is not None and len(meta.voxel_size) == 3 else None,
        )
        nifti = out_stem.with_name(out_stem.name + "_heatmap.nii.gz")
        save_heatmap_nifti(heat, nifti, affine=meta.affine)
        return [png, nifti]
    if meta.modality is Modality.CUBE:
        cube_false_colour_png(array, heat, png, wavelengths=meta.wavelengths, title=title)
        return [png]
    overlay_png(array, heat, png, title=title)
    return [png]
