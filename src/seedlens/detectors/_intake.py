"""Data intake: what a detector trains and calibrates on, from a data source or from arrays, read lazily."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from seedlens.data.loading import LoadedSample
from seedlens.data.samples import ArraySamples, RecordSamples, SampleSet
from seedlens.detectors._inputs import as_array_list, infer_modality
from seedlens.detectors._labels import check_some_normal, labelled_arrays
from seedlens.errors import ConfigError, DataSourceError
from seedlens.types import Modality


@dataclass
class TrainingData:
    """Samples a detector trains and calibrates on, already split; nothing is loaded but (perhaps) the first.

    Attributes:
        train: Training samples (normals, plus labelled anomalies if the detector uses them).
        val_normal: Normal samples held out for the threshold and the global heatmap statistics.
        modality: Modality of the samples.
        source: The data source they came from (None for arrays): what else it holds (its test split, a hub's
            other samples) is asked of it.
    """

    train: SampleSet
    val_normal: SampleSet
    modality: Modality
    _first: LoadedSample | None = field(default=None, repr=False)
    source: Any = None

    def first(self) -> LoadedSample:
        """The first training sample, read once."""
        if self._first is None:
            self._first = self.train.load(0)
        return self._first

    @property
    def train_labels(self) -> list[int]:
        """0 normal / 1 anomalous per training sample."""
        return self.train.labels()


def training_data(
    data: Any,
    y: Any = None,
    *,
    modality: str | Modality | None,
    val_fraction: float,
    seed: int,
    labelled: bool = False,
    spacing: Any = None,
) -> TrainingData:
    """Split ``data`` into training samples and normal validation samples.

    Args:
        data: A data source (its ``train`` split trains, its normal ``val`` samples calibrate; without a ``val``
            split ``val_fraction`` of the normal training samples is held out) or samples ``(N, C, *spatial)`` /
            a list of ``(C, *spatial)`` arrays (``val_fraction`` held out).
        y: For arrays: 0 normal / 1 anomalous per sample (scikit-learn's ``fit(X, y)``); None = all normal.
        modality: The samples' modality; None infers it from the first sample.
        val_fraction: Share of the normal training samples held out when there is no validation split.
        seed: Seed of the held-out draw.
        labelled: Keep the anomalous training samples (a detector that learns from labelled anomalies);
            otherwise only normal samples train.
        spacing: For arrays: their voxel size (one value per spatial axis, for every sample); None: unknown.

    Raises:
        DataSourceError: the source has no normal training samples.
        ConfigError: an empty batch, too few samples to hold any out, a label not 0/1, or ``y`` given with a data
            source.
        ShapeError: ``y`` does not hold one label per sample.
    """
    rng = np.random.default_rng(seed)
    source = data if hasattr(data, "records") else None
    if hasattr(data, "records"):
        if y is not None:
            labelled_arrays(data, y)  # raises: a data source labels its own records
        train_records = [r for r in data.records("train") if labelled or not r.is_anomalous]
        if not any(not r.is_anomalous for r in train_records):
            raise DataSourceError(f"{getattr(data, 'root', data)}: no normal samples in the 'train' split")
        first = None
        if modality:
            resolved = Modality.parse(modality)
        else:  # the first file decides (its reader knows what it holds); it is kept for the plan
            first = RecordSamples(train_records[:1]).load(0)
            resolved = Modality.parse(first.meta.modality)
        train: SampleSet = RecordSamples(train_records, resolved)
        val: SampleSet = RecordSamples(data.records("val", normal_only=True), resolved)
    else:
        if y is None:
            arrays, labels = as_array_list(data), []
            labels = [0] * len(arrays)
        else:
            arrays, flags = labelled_arrays(data, y)
            labels = [int(flag) for flag in flags]
        if not arrays:
            raise ConfigError("fit needs at least one normal sample; got an empty batch")
        resolved = Modality.parse(modality) if modality else infer_modality(arrays[0])
        keep = [i for i, label in enumerate(labels) if labelled or label == 0]
        if not any(labels[i] == 0 for i in keep):
            check_some_normal(labels)
        train = ArraySamples([arrays[i] for i in keep], resolved, [labels[i] for i in keep], spacing=spacing)
        val = ArraySamples([], resolved, spacing=spacing)
        first = None
    if len(val) == 0:
        train, val = hold_out(train, val_fraction, rng)
        first = None  # the first sample may have been held out
    return TrainingData(train, val, resolved, first, source)


def hold_out(samples: SampleSet, fraction: float, rng: np.random.Generator) -> tuple[SampleSet, SampleSet]:
    """Move ``fraction`` of the normal samples (at least one, never all) out of ``samples``: ``(train, val)``."""
    labels = samples.labels()
    normal = [i for i, label in enumerate(labels) if label == 0]
    if len(normal) < 2:
        raise ConfigError(f"need at least 2 normal samples to hold some out for the threshold; got {len(normal)}")
    n_val = min(len(normal) - 1, max(1, round(fraction * len(normal))))
    val_idx = set(rng.choice(normal, size=n_val, replace=False).tolist())
    keep = [i for i in range(len(labels)) if i not in val_idx]
    return samples.subset(keep), samples.subset(sorted(val_idx))


def normal_train_val(
    data: Any, y: Any, modality: Modality | None, val_fraction: float, seed: int
) -> tuple[list[np.ndarray], list[np.ndarray], Modality]:
    """Normal training and validation arrays and the modality, for detectors that keep every sample in memory.

    The split of :func:`training_data` (normal samples only: ``y == 0`` for arrays), with the arrays read.
    """
    split = training_data(data, y, modality=modality, val_fraction=val_fraction, seed=seed)
    return split.train.arrays(), split.val_normal.arrays(), split.modality

