"""Values of any bit depth or unit in [0, 1]: what pictures of unknown origin (outliers, CLIP inputs) are mapped by."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

__all__ = ["to_unit_range"]


def to_unit_range(batch: np.ndarray) -> Tensor:
    """Map each sample of a batch ``(N, C, *spatial)`` of one dtype to [0, 1]: float32 tensor of the same shape.

    8- and 16-bit unsigned integers by their type's range, booleans as 0/1; anything else is kept when the sample
    already lies in [0, 1] and min-max scaled otherwise (a constant sample gives 0). Non-finite values count as
    the sample's finite minimum.
    """
    array = np.asarray(batch)
    if array.dtype in (np.uint8, np.uint16):  # a copy as float32: the input may be a read-only memory map
        return torch.from_numpy(array.astype(np.float32)) / float(np.iinfo(array.dtype).max)
    x = torch.from_numpy(np.array(array, dtype=np.float32))
    flat = x.reshape(x.shape[0], -1)
    finite = torch.isfinite(flat)
    lo = torch.where(finite, flat, torch.inf).amin(dim=1, keepdim=True)
    hi = torch.where(finite, flat, -torch.inf).amax(dim=1, keepdim=True)
    lo = torch.where(torch.isfinite(lo), lo, torch.zeros_like(lo))
    hi = torch.where(torch.isfinite(hi), hi, lo)
    flat = torch.where(finite, flat, lo)
    inside = (lo >= 0) & (hi <= 1)
    span = (hi - lo).clamp(min=torch.finfo(torch.float32).tiny)
    scaled = torch.where(hi > lo, (flat - lo) / span, torch.zeros_like(flat))
    return torch.where(inside, flat, scaled).reshape(x.shape)
