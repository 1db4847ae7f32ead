"""Torch datasets over in-memory arrays and over data-source records.

Both yield the same item, a dict that torch's default collate stacks into a batch:

* ``"x"``: float32 tensor ``(C, *spatial)`` (``(C, H, W)``, ``(C, D, H, W)`` or ``(bands, H, W)``);
* ``"label"``: float, 1.0 = anomalous, 0.0 = normal;
* ``"mask"``: float32 tensor ``(1, *spatial)``, the ground-truth anomaly mask (all zeros when none);
* ``"index"``: int, the item's position in the dataset.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from seedlens.data.loading import Reader, load_record
from seedlens.data.records import Record
from seedlens.data.transforms.functional import resize
from seedlens.data.transforms.preprocessor import Preprocessor
from seedlens.errors import ShapeError
from seedlens.types import Modality

__all__ = ["ArrayDataset", "RecordDataset"]

Item = dict[str, Any]


def _mask_tensor(mask: Any, spatial: tuple[int, ...]) -> torch.Tensor:
    """A ``(1, *spatial)`` float32 0/1 tensor from a mask (``(*s)`` or ``(1, *s)``), resized nearest if needed."""
    if mask is None:
        return torch.zeros((1, *spatial), dtype=torch.float32)
    m = mask.detach().cpu().numpy() if isinstance(mask, torch.Tensor) else np.asarray(mask)
    if m.ndim == len(spatial):
        m = m[None]
    if m.ndim != len(spatial) + 1 or m.shape[0] != 1:
        raise ShapeError(
            f"mask must be (*spatial) or (1, *spatial) for a sample of spatial shape {spatial}; got {m.shape}"
        )
    m = (m > 0.5).astype(np.uint8)
    if tuple(m.shape[1:]) != spatial:
        m = resize(m, spatial, mode="nearest")
    return torch.from_numpy(m.astype(np.float32))


def _item(x: np.ndarray, label: float, mask: Any, index: int) -> Item:
    return {
        "x": torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)),
        "label": float(label),
        "mask": _mask_tensor(mask, tuple(x.shape[1:])),
        "index": index,
    }


class ArrayDataset(Dataset[Item]):
    """Samples already in memory, e.g. the ``x`` given to ``Detector.score``.

    Args:
        arrays: ``N`` samples ``(C, *spatial)`` (a list, or one stacked ``(N, C, *spatial)`` array).
        labels: ``(N,)`` 0/1 labels (1 = anomalous), or None for all 0.
        masks: ``N`` ground-truth masks ``(*spatial)`` or ``(1, *spatial)`` (entries may be None), or None.
        preprocessor: Applied to each sample when given; masks are then resized (nearest) to its output size.

    Raises:
        ShapeError: when ``labels`` or ``masks`` do not have one entry per sample.
    """

    def __init__(
        self,
        arrays: Sequence[Any] | np.ndarray | torch.Tensor,
        labels: Sequence[float] | np.ndarray | None = None,
        masks: Sequence[Any] | np.ndarray | torch.Tensor | None = None,
        *,
        preprocessor: Preprocessor | None = None,
    ) -> None:
        self.arrays = arrays
        n = len(arrays)
        self.labels = np.zeros(n) if labels is None else np.asarray(labels, dtype=np.float64).reshape(-1)
        if self.labels.shape[0] != n:
            raise ShapeError(f"labels must have one value per sample ({n}); got {self.labels.shape[0]}")
        if masks is not None and len(masks) != n:
            raise ShapeError(f"masks must have one entry per sample ({n}); got {len(masks)}")
        self.masks = masks
        self.preprocessor = preprocessor

    def __len__(self) -> int:
        return len(self.arrays)

    def __getitem__(self, index: int) -> Item:
        raw = self.arrays[index]
        if self.preprocessor is not None:
            x = self.preprocessor(raw)
        else:
            x = raw.detach().cpu().numpy() if isinstance(raw, torch.Tensor) else np.asarray(raw)
            if x.ndim not in (3, 4):
                raise ShapeError(f"sample {index} must be (C, H, W) or (C, D, H, W); got shape {x.shape}")
        mask = None if self.masks is None else self.masks[index]
        return _item(x, float(self.labels[index]), mask, index)


class RecordDataset(Dataset[Item]):
    """Samples of a data source's records, read with ``seedlens.io`` and preprocessed.

    Masks are read with the sample (see :func:`~seedlens.data.loading.load_record`) and resized with
    nearest neighbour to the preprocessed size. With ``cache=True`` each preprocessed item is kept in
    memory after its first read (one copy per DataLoader worker process).

    Args:
        records: The records, e.g. ``source.records("train", normal_only=True)``.
        preprocessor: Applied to every sample; must be fitted when its intensity needs statistics.
        modality: Passed to the reader; None lets it infer from each file.
        cache: Keep preprocessed items in memory.
        reader: A function like ``seedlens.io.read`` (the default).
    """

    def __init__(
        self,
        records: Sequence[Record],
        preprocessor: Preprocessor,
        modality: str | Modality | None = None,
        cache: bool = True,
        *,
        reader: Reader | None = None,
    ) -> None:
        self.records = list(records)
        self.preprocessor = preprocessor
        self.modality = modality
        self.cache = cache
        self.reader = reader
        self._cache: dict[int, tuple[np.ndarray, torch.Tensor]] = {}

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: int) -> Item:
        if index < 0:
            index += len(self.records)
        if not 0 <= index < len(self.records):
            raise IndexError(f"index {index} out of range for {len(self.records)} records")
        cached = self._cache.get(index)
        if cached is None:
            record = self.records[index]
            sample = load_record(record, self.modality, reader=self.reader)
            x = self.preprocessor(sample.array)
            cached = (x, _mask_tensor(sample.mask, tuple(x.shape[1:])))
            if self.cache:
                self._cache[index] = cached
        x, mask = cached
        return {
            "x": torch.from_numpy(x.copy()),
            "label": float(self.records[index].is_anomalous),
            "mask": mask.clone(),
            "index": index,
        }
