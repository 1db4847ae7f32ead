"""The hub's one door to the core readers: ``seedlens.io.read`` plus the metadata the catalog keeps."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from seedlens.errors import ReadError
from seedlens.types import ArrayMeta, Modality


@dataclass(frozen=True)
class ArrayFacts:
    """What the catalog records about a stored array."""

    shape: list[int]
    dtype: str
    spacing: list[float] | None
    wavelengths: list[float] | None
    device: str | None


def read_array(path: str | Path, modality: Modality) -> tuple[np.ndarray, ArrayMeta]:
    """Read ``path`` with the core readers as ``modality``.

    Raises:
        ReadError: the file is unreadable, of unknown format or corrupt (from ``seedlens.io``).
    """
    try:
        from seedlens.io import read
    except ImportError as err:  # the core readers are a hard dependency of import/materialise
        raise ReadError(path, f"seedlens.io.read is not available ({err})") from err
    return read(Path(path), modality=modality.value)


def facts(array: np.ndarray, meta: ArrayMeta) -> ArrayFacts:
    """Extract shape, dtype, spacing, wavelengths and device from a reader's result."""
    spacing = [float(s) for s in meta.spacing] if meta.spacing is not None else None
    wavelengths = [float(w) for w in meta.wavelengths] if meta.wavelengths is not None else None
    return ArrayFacts(
        shape=[int(s) for s in np.shape(array)],
        dtype=str(np.asarray(array).dtype) if not hasattr(array, "dtype") else str(array.dtype),
        spacing=spacing,
        wavelengths=wavelengths,
        device=_device(meta.extra),
    )


def _device(extra: dict[str, Any]) -> str | None:
    lowered = {str(k).lower().replace(" ", "_"): v for k, v in (extra or {}).items()}
    if lowered.get("device"):
        return str(lowered["device"])[:255]
    parts = [str(lowered[k]) for k in ("manufacturer", "manufacturermodelname", "manufacturer_model_name")
             if lowered.get(k)]
    for key in ("sensor_type", "instrument", "camera"):
        if lowered.get(key):
            parts.append(str(lowered[key]))
    return " ".join(parts)[:255] if parts else None
