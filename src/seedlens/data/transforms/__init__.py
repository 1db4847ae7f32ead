"""Sample transforms (2-D, 3-D and spectral alike) and the fitted :class:`Preprocessor` detectors use.

Array layouts are channel-first: ``(C, H, W)`` images, ``(C, D, H, W)`` volumes, ``(bands, H, W)`` cubes.
"""

from seedlens.data.transforms.functional import (
    RESIZE_MODES,
    contrast_normalize,
    equalize,
    minmax,
    resize,
    to_channels,
    window,
    zscore,
)
from seedlens.data.transforms.preprocessor import INTENSITIES, Preprocessor

__all__ = [
    "INTENSITIES",
    "RESIZE_MODES",
    "Preprocessor",
    "contrast_normalize",
    "equalize",
    "minmax",
    "resize",
    "to_channels",
    "window",
    "zscore",
]
