"""How each modality and target of a fusion model is encoded, fitted on the training samples and saved with it.

* image-like modalities (``image``, ``volume``, ``cube``): a :class:`~seedlens.data.transforms.Preprocessor`
  (resize to a fixed size, per-channel z-score with training statistics); a cube must keep its band count;
* numeric table columns: standardised with the training mean and standard deviation (one feature);
* categorical table columns: one-hot over the training categories (an unseen category is all zeros);
* classification targets: class index over the sorted training classes (missing: ``-1``, not in the loss);
* regression targets: standardised with the training mean and standard deviation (missing: NaN).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch

from seedlens.data.transforms import Preprocessor
from seedlens.errors import DataSourceError, ShapeError
from seedlens.predictors.data import FusionData
from seedlens.types import Modality, label_text

#: Largest default input side per kind (inputs are resized to their first training sample's size up to this).
MAX_DEFAULT_SIZE = {Modality.VOLUME: 48, Modality.IMAGE: 96, Modality.CUBE: 48}


@dataclass
class ModalitySpec:
    """Encoding of one modality.

    Attributes:
        name: Column / modality name.
        kind: ``image``, ``volume``, ``cube`` or ``table``.
        channels: Channels (bands for cubes) of image-like inputs; features of a table column.
        size: Spatial size image-like inputs are resized to.
        preprocessor: Fitted :class:`Preprocessor` state (image-like).
        mean: Training mean (numeric column).
        std: Training standard deviation (numeric column).
        categories: Training categories (categorical column).
    """

    name: str
    kind: str
    channels: int = 1
    size: list[int] = field(default_factory=list)
    preprocessor: dict[str, Any] = field(default_factory=dict)
    mean: float | None = None
    std: float | None = None
    categories: list[str] | None = None

    @property
    def modality(self) -> Modality:
        """The kind as a :class:`Modality`."""
        return Modality.parse(self.kind)

    def to_dict(self) -> dict[str, Any]:
        """Plain data for the saved model."""
        return asdict(self)


@dataclass
class TargetSpec:
    """Encoding of one prediction target.

    Attributes:
        name: Column name.
        task: ``classification`` or ``regression``.
        classes: Sorted class names (classification).
        mean: Training mean (regression).
        std: Training standard deviation (regression).
    """

    name: str
    task: str
    classes: list[str] = field(default_factory=list)
    mean: float = 0.0
    std: float = 1.0

    @property
    def out_size(self) -> int:
        """Head size: number of classes, or 1."""
        return len(self.classes) if self.task == "classification" else 1

    def to_dict(self) -> dict[str, Any]:
        """Plain data for the saved model."""
        return asdict(self)


def fit_modality(data: FusionData, name: str, size: int | None = None) -> ModalitySpec:
    """Fit the encoding of modality ``name`` on ``data`` (the training samples).

    Raises:
        DataSourceError: no training sample has this modality, or a numeric column has no value.
        ShapeError: the training samples of a cube modality differ in band count.
    """
    kind = data.kinds[name]
    if kind is Modality.TABLE:
        cells = [s.values.get(name) for s in data.samples if s.values.get(name) is not None]
        if not cells:
            raise DataSourceError(f"column {name!r} has no value in the training samples of {data.source}")
        if name in data.numeric:
            values = np.asarray(cells, dtype=np.float64)
            std = float(values.std())
            return ModalitySpec(name, kind.value, 1, mean=float(values.mean()), std=std if std > 1e-12 else 1.0)
        categories = sorted({label_text(c) for c in cells})
        return ModalitySpec(name, kind.value, len(categories), categories=categories)
    arrays = [a for s in data.samples if (a := data.array(s, name)) is not None]
    if not arrays:
        raise DataSourceError(f"no training sample of {data.source} has modality {name!r}")
    first = arrays[0]
    if first.ndim != kind.spatial_dims + 1:
        layout = "(C, D, H, W)" if kind is Modality.VOLUME else "(C, H, W)"
        raise ShapeError(f"modality {name!r} ({kind.value}) must be {layout}; got shape {first.shape}")
    channels = int(first.shape[0])
    if kind is Modality.CUBE:
        for sample in data.samples:
            array = data.array(sample, name)
            if array is not None and array.shape[0] != channels:
                raise ShapeError(f"cube {sample.files[name]} has {array.shape[0]} bands but the first training "
                                 f"cube has {channels}")
    side = size or min(max(first.shape[1:]), MAX_DEFAULT_SIZE[kind])
    preprocessor = Preprocessor(size=(int(side),) * kind.spatial_dims,
                                channels=channels if kind is Modality.IMAGE else None, intensity="zscore")
    preprocessor.fit(arrays)
    return ModalitySpec(name, kind.value, channels, list(preprocessor.size or ()), preprocessor.to_dict())


def fit_target(data: FusionData, name: str) -> TargetSpec:
    """Fit the encoding of target ``name``: regression for a numeric column, classification otherwise.

    Raises:
        DataSourceError: the column has no value in the training samples, or fewer than two classes.
    """
    cells = [s.values.get(name) for s in data.samples if s.values.get(name) is not None]
    if not cells:
        raise DataSourceError(f"target {name!r} has no value in the training samples of {data.source}")
    if name in data.numeric:
        values = np.asarray(cells, dtype=np.float64)
        std = float(values.std())
        return TargetSpec(name, "regression", mean=float(values.mean()), std=std if std > 1e-12 else 1.0)
    classes = sorted({label_text(c) for c in cells})
    if len(classes) < 2:
        raise DataSourceError(f"target {name!r} has only the class {classes[0]!r} in the training samples")
    return TargetSpec(name, "classification", classes)


class Encoder:
    """Turns :class:`FusionData` into tensors with fitted :class:`ModalitySpec` / :class:`TargetSpec`."""

    def __init__(self, modalities: Sequence[ModalitySpec], targets: Sequence[TargetSpec]) -> None:
        self.modalities = list(modalities)
        self.targets = list(targets)
        self._preprocessors = {m.name: Preprocessor.from_dict(m.preprocessor) for m in self.modalities
                               if m.modality is not Modality.TABLE}

    @property
    def names(self) -> list[str]:
        """Modality names in the order of the presence mask."""
        return [m.name for m in self.modalities]

    def input_shape(self, spec: ModalitySpec) -> tuple[int, ...]:
        """Shape of one encoded input of ``spec`` (without the batch axis)."""
        if spec.modality is Modality.TABLE:
            return (spec.channels,)
        return (spec.channels, *spec.size)

    def encode_inputs(self, data: FusionData) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """Return ``({name: (N, ...)}, present (N, M) bool)`` for every sample of ``data``.

        Raises:
            ShapeError: a cube's band count differs from training (the message names the file and both counts)
                or an array has the wrong number of axes.
        """
        n = len(data.samples)
        present = torch.zeros((n, len(self.modalities)), dtype=torch.bool)
        inputs: dict[str, torch.Tensor] = {}
        for j, spec in enumerate(self.modalities):
            values = torch.zeros((n, *self.input_shape(spec)), dtype=torch.float32)
            for i, sample in enumerate(data.samples):
                encoded = self._encode_one(data, sample, spec)
                if encoded is not None:
                    values[i] = torch.from_numpy(encoded)
                    present[i, j] = True
            inputs[spec.name] = values
        return inputs, present

    def _encode_one(self, data: FusionData, sample: Any, spec: ModalitySpec) -> np.ndarray | None:
        if spec.modality is Modality.TABLE:
            value = sample.values.get(spec.name)
            if value is None:
                return None
            if spec.categories is None:
                return np.asarray([(float(value) - float(spec.mean or 0.0)) / float(spec.std or 1.0)], np.float32)
            onehot = np.zeros(len(spec.categories), dtype=np.float32)
            if label_text(value) in spec.categories:
                onehot[spec.categories.index(label_text(value))] = 1.0
            return onehot
        array = data.array(sample, spec.name)
        if array is None:
            return None
        kind = spec.modality
        if array.ndim != kind.spatial_dims + 1:
            layout = "(C, D, H, W)" if kind is Modality.VOLUME else "(C, H, W)"
            raise ShapeError(f"{sample.files[spec.name]}: {spec.name} ({kind.value}) must be {layout}; "
                             f"got shape {array.shape}")
        if kind is Modality.CUBE and array.shape[0] != spec.channels:
            raise ShapeError(f"{sample.files[spec.name]}: cube has {array.shape[0]} bands but the model was "
                             f"trained on {spec.channels} bands")
        return np.asarray(self._preprocessors[spec.name](array), dtype=np.float32)

    def encode_targets(self, data: FusionData) -> dict[str, torch.Tensor]:
        """Return ``{target: (N,)}``: class indices (``-1`` missing / unknown) or standardised values (NaN)."""
        out: dict[str, torch.Tensor] = {}
        for spec in self.targets:
            if spec.task == "classification":
                index = {c: k for k, c in enumerate(spec.classes)}
                labels = [index.get(label_text(v), -1) if (v := s.values.get(spec.name)) is not None else -1
                          for s in data.samples]
                out[spec.name] = torch.tensor(labels, dtype=torch.long)
            else:
                values = [(float(v) - spec.mean) / spec.std if (v := s.values.get(spec.name)) is not None
                          else float("nan") for s in data.samples]
                out[spec.name] = torch.tensor(values, dtype=torch.float32)
        return out
