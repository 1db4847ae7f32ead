"""scikit-learn's ``fit(X, y)``: per-sample labels of an array batch, and the normal samples a one-class fit keeps."""

from __future__ import annotations

from typing import Any

import numpy as np

from seedlens.detectors._inputs import as_array_list
from seedlens.errors import ConfigError, ShapeError


def labelled_arrays(data: Any, y: Any) -> tuple[list[np.ndarray], np.ndarray]:
    """The samples of an array batch ``data`` and their labels ``y`` as bools ``(N,)`` (True = anomalous).

    ``data`` is ``(N, C, *spatial)`` or a sequence of ``(C, *spatial)`` arrays; ``y`` holds 0 (normal) / 1
    (anomalous) or bools, one per sample.

    Raises:
        ConfigError: ``data`` is a data source (its records carry their labels), or a label is not 0/1.
        ShapeError: ``y`` is not 1-D with one label per sample.
    """
    from seedlens.evaluation._checks import binary_labels

    if hasattr(data, "records"):
        raise ConfigError(f"y labels array samples; a data source labels its own records (got y with "
                          f"{type(data).__name__}): call fit(source) without y")
    arrays = as_array_list(data)
    labels = binary_labels(np.asarray(y), name="y")
    if labels.shape[0] != len(arrays):
        raise ShapeError(f"y must have one label per sample ({len(arrays)},); got shape {tuple(labels.shape)}")
    return arrays, labels


def normal_only(data: Any, y: Any | None) -> Any:
    """What a one-class detector fits on: ``data`` itself without ``y``, else its samples labelled 0 (normal).

    Returns:
        ``data`` unchanged when ``y`` is None, else the list of its normal samples ``(C, *spatial)``.

    Raises:
        ConfigError: ``y`` comes with a data source, a label is not 0/1, or no sample is labelled normal.
        ShapeError: ``y`` is not 1-D with one label per sample.
    """
    if y is None:
        return data
    arrays, labels = labelled_arrays(data, y)
    normal = [array for array, anomalous in zip(arrays, labels, strict=True) if not anomalous]
    if not normal:
        raise ConfigError(f"y labels all {len(arrays)} samples anomalous (1); a one-class fit needs normal samples (0)")
    return normal
