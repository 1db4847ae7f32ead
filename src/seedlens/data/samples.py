"""Sample sets: indexable collections of samples that are read only when asked for.

A detector trains, calibrates and scores from a :class:`SampleSet`, whose samples come from files (the records of a
manifest, a dataset folder or a hub: :class:`RecordSamples`) or from arrays already in memory
(:class:`ArraySamples`). Nothing is loaded until :meth:`SampleSet.load` is called for one index, so a data set
larger than memory is fine.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from seedlens.data.loading import LoadedSample, Reader, load_record
from seedlens.data.records import Record
from seedlens.errors import ShapeError
from seedlens.types import ArrayMeta, Modality

__all__ = ["ArraySamples", "RecordSamples", "SampleSet"]


class SampleSet:
    """Samples read on demand. Subclasses implement ``__len__``, :meth:`load`, :meth:`label` and :meth:`subset`."""

    def __len__(self) -> int:
        raise NotImplementedError

    def load(self, index: int) -> LoadedSample:
        """Read sample ``index``: its array ``(C, *spatial)``, meta (spacing...), anomaly and object masks."""
        raise NotImplementedError

    def label(self, index: int) -> int:
        """1 if sample ``index`` is anomalous, else 0 (known without reading the sample)."""
        raise NotImplementedError

    def spacing(self, index: int) -> tuple[float, ...] | None:
        """The voxel size of sample ``index`` (None when unknown), read as cheaply as its format allows."""
        return self.load(index).meta.voxel_size

    def subset(self, indices: Sequence[int]) -> SampleSet:
        """The samples at ``indices``, in that order."""
        raise NotImplementedError

    def name(self, index: int) -> str:
        """What to call sample ``index`` in messages (its file)."""
        return f"sample {index}"

    def labels(self) -> list[int]:
        """:meth:`label` of every sample."""
        return [self.label(i) for i in range(len(self))]

    def __iter__(self) -> Iterator[LoadedSample]:
        """Load the samples one after the other (one in memory at a time if the caller lets it go)."""
        for index in range(len(self)):
            yield self.load(index)

    def arrays(self) -> list[np.ndarray]:
        """Every sample's array, in memory: for detectors that keep all of them anyway."""
        return [sample.array for sample in self]


class RecordSamples(SampleSet):
    """The samples of data-source records, read with ``seedlens.io`` (or ``reader``) when asked for.

    Args:
        records: Records of a manifest, dataset folder or hub.
        modality: Passed to the reader (settles ambiguous layouts); None lets each file decide.
        reader: A function like ``seedlens.io.read``.
    """

    def __init__(self, records: Sequence[Record], modality: str | Modality | None = None,
                 reader: Reader | None = None) -> None:
        self.records = list(records)
        self.modality = modality
        self.reader = reader

    def __len__(self) -> int:
        return len(self.records)

    def load(self, index: int) -> LoadedSample:
        """Read record ``index`` and its masks."""
        return load_record(self.records[index], self.modality, reader=self.reader)

    def label(self, index: int) -> int:
        """1 if record ``index`` is anomalous, else 0."""
        return int(self.records[index].is_anomalous)

    def spacing(self, index: int) -> tuple[float, ...] | None:
        """The voxel size of record ``index`` from its file's header where the format has one (NIfTI)."""
        if self.reader is not None:
            return super().spacing(index)
        from seedlens.io import read_meta

        return read_meta(self.records[index].path, modality=self.modality).voxel_size

    def subset(self, indices: Sequence[int]) -> RecordSamples:
        """The records at ``indices``."""
        return RecordSamples([self.records[i] for i in indices], self.modality, self.reader)

    def name(self, index: int) -> str:
        """The record's file."""
        return str(self.records[index].path)


class ArraySamples(SampleSet):
    """Samples already in memory.

    Args:
        arrays: ``N`` arrays ``(C, *spatial)``.
        modality: Their modality.
        labels: 0/1 per sample (1 = anomalous); None for all normal.
        masks: Ground-truth anomaly masks ``(1, *spatial)`` (entries may be None), or None.
        spacing: Voxel size per spatial axis of every sample, or None when unknown.

    Raises:
        ShapeError: ``labels`` or ``masks`` do not have one entry per sample.
    """

    def __init__(
        self,
        arrays: Sequence[np.ndarray],
        modality: Modality,
        labels: Sequence[int] | None = None,
        masks: Sequence[np.ndarray | None] | None = None,
        spacing: Sequence[float] | None = None,
    ) -> None:
        self.arrays_ = list(arrays)
        self.modality = Modality.parse(modality)
        n = len(self.arrays_)
        self.labels_ = [0] * n if labels is None else [int(v) for v in labels]
        self.masks = [None] * n if masks is None else list(masks)
        if len(self.labels_) != n or len(self.masks) != n:
            raise ShapeError(f"labels and masks must have one entry per sample ({n}); got "
                             f"{len(self.labels_)} labels and {len(self.masks)} masks")
        self.spacing_ = None if spacing is None else tuple(float(s) for s in spacing)

    def __len__(self) -> int:
        return len(self.arrays_)

    def load(self, index: int) -> LoadedSample:
        """Sample ``index`` as a loaded sample (nothing is copied)."""
        array = np.asarray(self.arrays_[index])
        record = Record(path=Path(f"<array {index}>"), label=str(self.labels_[index]), split="train",
                        is_anomalous=bool(self.labels_[index]))
        meta = ArrayMeta(modality=self.modality, spacing=self.spacing_)
        return LoadedSample(array=array, meta=meta, mask=self.masks[index], object_mask=None, record=record)

    def label(self, index: int) -> int:
        """The given label of sample ``index``."""
        return self.labels_[index]

    def spacing(self, index: int) -> tuple[float, ...] | None:
        """The voxel size given for every sample."""
        return self.spacing_

    def subset(self, indices: Sequence[int]) -> ArraySamples:
        """The samples at ``indices``."""
        return ArraySamples([self.arrays_[i] for i in indices], self.modality, [self.labels_[i] for i in indices],
                            [self.masks[i] for i in indices], self.spacing_)

    def arrays(self) -> list[np.ndarray]:
        """The arrays as given."""
        return [np.asarray(a) for a in self.arrays_]


