"""The object in a scan: an automatic foreground mask for samples that come without an object mask.

A seed, an organ or a part in a CT volume (or an object photographed on a plain backdrop) is brighter than the air
around it. Otsu's threshold of the channel mean separates the two; holes are then filled, so that cavities inside
the object (the lungs inside a chest, a void inside a grain) count as the object, in 3D and slice by slice (a
chest cut at the top and bottom of a scan opens its lungs to the border in 3D, but not in an axial slice).
"""

from __future__ import annotations

import numpy as np
import torch
from scipy import ndimage

from seedlens.errors import ShapeError

__all__ = ["object_mask", "otsu_threshold"]

#: Most values :func:`otsu_threshold` histograms; larger inputs are subsampled with a fixed stride.
OTSU_MAX_VALUES = 2_000_000


def otsu_threshold(values: np.ndarray | torch.Tensor, bins: int = 128) -> float:
    """Otsu's threshold of ``values``: the cut maximising the between-class variance of a ``bins``-bin histogram.

    Inputs of more than :data:`OTSU_MAX_VALUES` values are subsampled with a fixed stride (deterministic).
    """
    flat = (torch.from_numpy(np.asarray(values)) if isinstance(values, np.ndarray) else values).detach().flatten()
    if flat.numel() > OTSU_MAX_VALUES:
        flat = flat[:: -(-flat.numel() // OTSU_MAX_VALUES)]
    flat = flat.float().cpu()
    lo, hi = float(flat.min()), float(flat.max())
    if hi - lo < 1e-12:
        return lo
    hist = torch.histc(flat, bins=bins, min=lo, max=hi).double()
    centres = lo + (torch.arange(bins, dtype=torch.float64) + 0.5) * (hi - lo) / bins
    w0 = hist.cumsum(0)
    w1 = hist.sum() - w0
    m0 = (hist * centres).cumsum(0)
    m1 = (hist * centres).sum() - m0
    between = (w0 * w1) * (m0 / w0.clamp_min(1e-12) - m1 / w1.clamp_min(1e-12)) ** 2
    k = int(between[:-1].argmax())
    return float(lo + (k + 1) * (hi - lo) / bins)


def object_mask(array: np.ndarray) -> np.ndarray:
    """The object of one sample ``(C, *spatial)``: channel mean above Otsu's threshold, holes filled.

    Returns:
        bool ``(*spatial)``. A constant sample is all object.

    Raises:
        ShapeError: ``array`` is not ``(C, H, W)`` or ``(C, D, H, W)``.
    """
    if array.ndim not in (3, 4):
        raise ShapeError(f"object_mask: sample must be (C, H, W) or (C, D, H, W); got shape {array.shape}")
    mean = array[0] if array.shape[0] == 1 else np.asarray(array, dtype=np.float32).mean(axis=0)
    threshold = otsu_threshold(mean)
    mask = np.asarray(mean > threshold)
    if not mask.any():
        return np.ones(mean.shape, dtype=bool)
    filled = ndimage.binary_fill_holes(mask)
    if mask.ndim == 3:
        for d in range(mask.shape[0]):
            filled[d] |= ndimage.binary_fill_holes(mask[d])
    return np.asarray(filled, dtype=bool)
