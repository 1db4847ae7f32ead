"""scikit-learn's ``fit(X, y)``: the per-sample labels of an array batch, checked."""

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


def check_some_normal(anomalous: Any) -> None:
    """Refuse labels ``(N,)`` (True / 1 = anomalous) that leave a one-class fit no normal sample.

    Raises:
        ConfigError: every sample is labelled anomalous.
    """
    flags = np.asarray(anomalous).astype(bool)
    if flags.size and flags.all():
        raise ConfigError(f"y labels all {flags.size} samples anomalous (1); a one-class fit needs normal samples (0)")
