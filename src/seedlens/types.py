"""Shared vocabulary: modality kinds and array metadata.

Array layouts are channel-first everywhere in seedlens:

* ``image``: ``(C, H, W)``, any channel count (grey, RGB, multi-channel).
* ``volume``: ``(C, D, H, W)``, usually ``C == 1`` (CT intensities or HU).
* ``cube``: ``(bands, H, W)``, hyperspectral; the band axis is the channel axis.
* ``table``: ``(F,)`` a feature vector.

Batches prepend ``N``: ``(N, C, H, W)``, ``(N, C, D, H, W)``, ``(N, bands, H, W)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

import numpy as np


class Modality(str, Enum):
    """The one modality vocabulary used by the API, the CLI, the catalog and the docs."""

    IMAGE = "image"
    VOLUME = "volume"
    CUBE = "cube"
    TABLE = "table"

    @property
    def spatial_dims(self) -> int:
        """Number of spatial axes of one sample: 2 for image and cube, 3 for volume, 0 for table."""
        return {"image": 2, "volume": 3, "cube": 2, "table": 0}[self.value]

    @classmethod
    def parse(cls, value: str | Modality) -> Modality:
        """Return the modality named ``value``; the error lists the known names."""
        if isinstance(value, Modality):
            return value
        try:
            return cls(str(value).lower())
        except ValueError:
            from seedlens.errors import UnknownNameError

            known = ", ".join(m.value for m in cls)
            raise UnknownNameError(f"unknown modality {value!r}; expected one of: {known}") from None


def label_text(value: Any) -> str:
    """A label value as text: ``3.0`` (a number read from a table or a catalog) becomes ``"3"``, others ``str``."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


@dataclass
class ArrayMeta:
    """What a reader knows about an array besides its values.

    Attributes:
        modality: Kind of data the array holds.
        spacing: Physical size of one element along each spatial axis (mm for CT, None if unknown),
            in the array's axis order (``(D, H, W)`` for volumes, ``(H, W)`` for images and cubes).
        affine: 4×4 voxel-to-world matrix of a volume. It maps the index vector ``(w, h, d, 1)``,
            i.e. the spatial axes of the ``(D, H, W)`` array *reversed* (the NIfTI/ITK ``(i, j, k)``
            order), to world millimetres (RAS for NIfTI as stored in the file, LPS for DICOM).
            Writers transpose back, so a read → write round trip preserves the file's affine.
        wavelengths: Band centre wavelengths (nm) for cubes.
        source: File or folder the array came from.
        extra: Any other format-specific metadata (DICOM tags kept, ENVI header fields...).
    """

    modality: Modality
    spacing: tuple[float, ...] | None = None
    affine: np.ndarray | None = None
    wavelengths: list[float] | None = None
    source: Path | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def voxel_size(self) -> tuple[float, ...] | None:
        """``spacing`` as floats when it is usable (every value finite and positive), else None (unknown).

        A header can hold a spacing of 0 or NaN; anything that resamples or draws by spacing reads this instead.
        """
        if self.spacing is None:
            return None
        values = tuple(float(s) for s in self.spacing)
        if not values or not all(math.isfinite(v) and v > 0 for v in values):
            return None
        return values
