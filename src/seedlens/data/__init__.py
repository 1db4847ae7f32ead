"""seedlens.data: data sources (CSV manifest, dataset folder), loading, transforms and torch datasets.

Torch-dependent names (datasets, transforms) are imported on first use, so listing a source does
not pay for importing torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from seedlens.data.loading import LoadedSample, Reader, binarize_mask, load_record
from seedlens.data.records import SPLITS, Record
from seedlens.data.sources import DataSource, FolderSource, ManifestSource, open_source

if TYPE_CHECKING:
    from seedlens.data.datasets import ArrayDataset, RecordDataset
    from seedlens.data.transforms import (
        INTENSITIES,
        Preprocessor,
        contrast_normalize,
        minmax,
        resize,
        to_channels,
        window,
        zscore,
    )

_LAZY = {
    "ArrayDataset": "seedlens.data.datasets",
    "RecordDataset": "seedlens.data.datasets",
    "INTENSITIES": "seedlens.data.transforms",
    "Preprocessor": "seedlens.data.transforms",
    "contrast_normalize": "seedlens.data.transforms",
    "minmax": "seedlens.data.transforms",
    "resize": "seedlens.data.transforms",
    "to_channels": "seedlens.data.transforms",
    "window": "seedlens.data.transforms",
    "zscore": "seedlens.data.transforms",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'seedlens.data' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


__all__ = [
    "INTENSITIES",
    "SPLITS",
    "ArrayDataset",
    "DataSource",
    "FolderSource",
    "LoadedSample",
    "ManifestSource",
    "Preprocessor",
    "Reader",
    "Record",
    "RecordDataset",
    "binarize_mask",
    "contrast_normalize",
    "load_record",
    "minmax",
    "open_source",
    "resize",
    "to_channels",
    "window",
    "zscore",
]
