"""One crop per grain of a segmented scan: values, mask, bounding box and centroid in the parent scan."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from seedlens.errors import ConfigError
from seedlens.seeds.ct import GrainSegmentation


@dataclass(frozen=True)
class Grain:
    """One grain cut out of its scan.

    Attributes:
        index: 1-based label in the segmentation.
        grain_id: ``g01``, ``g02``... (three digits from 100 grains on).
        bbox: ``((d0, d1), (h0, h1), (w0, w1))``: the crop's half-open extent in parent voxels.
        centroid: ``(d, h, w)`` of the grain's voxels in parent voxels.
        values: ``(D, H, W)`` crop of the scan (float32); outside the grain it holds the air level when the crop
            was isolated.
        mask: ``(D, H, W)`` bool, True on this grain's voxels.
    """

    index: int
    grain_id: str
    bbox: tuple[tuple[int, int], ...]
    centroid: tuple[float, ...]
    values: np.ndarray
    mask: np.ndarray


def grain_id(index: int, count: int) -> str:
    """``g01`` style id, zero-padded to the width the largest index needs (at least two digits)."""
    return f"g{index:0{max(2, len(str(count)))}d}"


def crop_grains(volume: np.ndarray, segmentation: GrainSegmentation, *, margin: int = 3,
                isolate: bool = True) -> list[Grain]:
    """Cut every grain of ``segmentation`` out of ``volume``.

    Args:
        volume: ``(D, H, W)`` or ``(1, D, H, W)``: the scan that was segmented.
        segmentation: Its grain labels.
        margin: Voxels of context kept around each grain's bounding box (clipped at the scan's border).
        isolate: Replace every voxel that is not this grain (neighbouring grains, stem) by the scan's air level,
            so that a per-grain model sees one grain; the mask is the same either way.

    Returns:
        The grains in label order.
    """
    if margin < 0:
        raise ConfigError(f"margin must be 0 or more voxels, got {margin}")
    array = np.asarray(volume)
    array = array[0] if array.ndim == 4 else array
    labels = segmentation.labels
    count = segmentation.count
    boxes = ndimage.find_objects(labels)
    centroids = ndimage.center_of_mass(labels > 0, labels, index=np.arange(1, count + 1))
    grains = []
    for index in range(1, count + 1):
        box = boxes[index - 1]
        assert box is not None
        bbox = tuple((max(0, s.start - margin), min(n, s.stop + margin))
                     for s, n in zip(box, labels.shape, strict=True))
        window = tuple(slice(a, b) for a, b in bbox)
        mask = labels[window] == index
        values = np.array(array[window], dtype=np.float32)
        if isolate:
            values[~mask] = segmentation.air_level
        grains.append(Grain(index, grain_id(index, count), bbox, tuple(float(c) for c in centroids[index - 1]),
                            values, mask))
    return grains
