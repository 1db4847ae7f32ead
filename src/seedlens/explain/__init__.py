"""Explanations: receptive-field upsampling, Gaussian smoothing, heatmap normalisation, renderings, NIfTI export.

The renderers (matplotlib) and the NIfTI writer (nibabel) are imported on first use, so
``import seedlens.explain`` stays light.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from seedlens.explain.normalize import GlobalNormalizer, normalize_local
from seedlens.explain.smoothing import gaussian_blur
from seedlens.explain.upsample import ReceptiveFieldUpsampler

if TYPE_CHECKING:
    from seedlens.explain.nifti import save_heatmap_nifti
    from seedlens.explain.render import cube_false_colour_png, overlay_png, volume_triplanar_png

_LAZY = {
    "overlay_png": "seedlens.explain.render",
    "volume_triplanar_png": "seedlens.explain.render",
    "cube_false_colour_png": "seedlens.explain.render",
    "save_heatmap_nifti": "seedlens.explain.nifti",
}

__all__ = [
    "GlobalNormalizer",
    "ReceptiveFieldUpsampler",
    "cube_false_colour_png",
    "gaussian_blur",
    "normalize_local",
    "overlay_png",
    "save_heatmap_nifti",
    "volume_triplanar_png",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'seedlens.explain' has no attribute {name!r}")
