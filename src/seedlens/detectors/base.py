"""The Detector protocol every anomaly detector of seedlens follows.

Anomaly scores have one meaning everywhere: **higher score = more anomalous**. ``score`` returns one
number per sample, ``explain`` one heatmap per sample at the input's own resolution, ``predict`` compares
scores with the threshold fitted on normal validation scores (their 0.95 quantile unless set otherwise): a sample
is anomalous when ``score >= threshold`` (:func:`seedlens.evaluation.is_anomalous`, the rule everywhere).

The estimator contract follows scikit-learn: the constructor only stores its keyword arguments (the options of
the detector's ``Config`` dataclass), ``fit`` validates them and returns ``self``, fitted state ends in ``_``, and any
method that needs a fitted detector raises :class:`~seedlens.errors.NotFittedError` before ``fit``.
``get_params`` / ``set_params`` read and change the options, so ``sklearn.base.clone`` and scikit-learn's model
selection work on every detector.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from seedlens.errors import ConfigError, NotFittedError
from seedlens.registry import Registry

#: File names every saved detector folder holds (deep detectors add their weights).
CONFIG_FILE = "detector.yaml"
STATE_FILE = "state.json"

#: Every registered detector; ``DETECTORS.create("fcdd", epochs=10)`` builds one by name.
DETECTORS: Registry[Detector] = Registry("detector")

#: What ``score`` / ``explain`` / ``predict`` accept: a batch array ``(N, C, *spatial)`` or a sequence of
#: per-sample arrays ``(C, *spatial)`` that may differ in spatial size.
ArrayBatch = np.ndarray | Sequence[np.ndarray]


class Detector(ABC):
    """Base class of all detectors. Higher score = more anomalous.

    Subclasses set ``name`` and ``Config`` and implement ``fit``, ``score``, ``explain``, ``save`` and ``load``;
    the constructor, ``get_params`` / ``set_params``, ``predict`` and the fitted-state checks live here.

    **scikit-learn.** A detector is a scikit-learn estimator: ``sklearn.base.clone(detector)`` gives an unfitted
    detector with the same options, and ``fit(X, y)`` (on the detectors that take ``y``: knn and rx) fits on the
    samples of the batch ``X`` labelled 0 in ``y``, so ``GridSearchCV`` can search their options. Unlike a
    scikit-learn classifier's ``score(X, y)`` (the mean accuracy), ``score(x)`` returns one anomaly score per sample,
    so a grid search needs an explicit ``scoring``: a callable ``(detector, X, y) -> float``, higher = better, e.g.
    ``lambda d, X, y: image_auroc(y, d.score(X))``. Cross-validation folds should hold both labels (e.g.
    ``cv=StratifiedKFold(3)``).

    Args:
        **params: Options of the detector's ``Config``, stored as given (the very same objects) and validated by
            ``fit``.
    """

    #: Registry name of the detector (``"fcdd"``, ``"hsc"``...).
    name: ClassVar[str] = ""
    #: The dataclass of the detector's options: its fields are the constructor's keyword arguments, its defaults
    #: theirs; it has a ``validate()`` method.
    Config: ClassVar[type[Any]]

    threshold_: float
    #: The validated options (a dataclass with ``heatmap_quantile``) and the heatmap normaliser, set by ``fit``.
    config_: Any
    normalizer_: Any

    def __init__(self, **params: Any) -> None:
        self.params = dict(params)

    # ------------------------------------------------------------------ options
    def get_config(self) -> Any:
        """Return the validated ``Config`` built from the constructor's parameters.

        Raises:
            ConfigError: an option is unknown (named with its close match) or has an invalid value.
        """
        from seedlens.config import from_dict

        config = from_dict(self.Config, dict(self.params), where=f"{type(self).__name__} parameters")
        config.validate()
        return config

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Return every option: the ``Config`` defaults, overridden by the constructor's and ``set_params``' values.

        Values given to the constructor or ``set_params`` are returned as the very same objects (what
        ``sklearn.base.clone`` checks); a name the ``Config`` does not know is returned too, so that ``fit`` of a
        clone refuses it as the original's does.

        Args:
            deep: Accepted for scikit-learn; no option holds an estimator, so there is nothing nested to add.

        Returns:
            Option name -> value, in the order of the ``Config`` fields.
        """
        defaults = {f.name: _default(f) for f in dataclasses.fields(self.Config)}
        return {**{k: v for k, v in defaults.items() if v is not dataclasses.MISSING}, **self.params}

    def set_params(self, **params: Any) -> Detector:
        """Store options (validated, like the constructor's, by the next ``fit``); return ``self``.

        A fitted detector keeps its fitted state until it is fitted again.

        Raises:
            ConfigError: a name is not an option of the ``Config``; the message names it, its close match and the
                known options.
        """
        from seedlens.config import unknown_option

        known = [f.name for f in dataclasses.fields(self.Config)]
        for key in params:
            if key not in known:
                raise unknown_option(key, known, f"{type(self).__name__}.set_params")
        self.params.update(params)
        return self

    def __sklearn_tags__(self) -> Any:
        """scikit-learn's tags (read by scikit-learn >= 1.6): no estimator type, ``y`` optional, no 2D ``(N, F)`` input.

        Not an ``outlier_detector``: that contract has ``predict`` return -1/1 and ``score_samples`` higher = more
        normal, where ``predict`` here returns bools and ``score`` higher = more anomalous.
        """
        from sklearn.utils import InputTags, Tags, TargetTags

        return Tags(estimator_type=None, target_tags=TargetTags(required=False),
                    input_tags=InputTags(two_d_array=False))

    @abstractmethod
    def fit(
        self, data: Any, y: Any = None, *, run_dir: str | Path | None = None, resume: bool = False,
        progress: bool = True,
    ) -> Detector:
        """Fit on normal data (plus whatever anomalies the method synthesises or is given); return ``self``.

        ``y`` (scikit-learn's ``fit(X, y)``) labels array samples 0 normal / 1 anomalous.
        """

    @abstractmethod
    def score(self, x: ArrayBatch, spacing: Any = None) -> np.ndarray:
        """Return anomaly scores ``(N,)``, higher = more anomalous.

        ``spacing``: the samples' voxel size (one for all, or one per sample), for detectors that resample to a
        physical voxel size; None when unknown. Detectors that work on the pixel grid ignore it.
        """

    @abstractmethod
    def explain(
        self, x: ArrayBatch, normalize: str | None = None, spacing: Any = None
    ) -> np.ndarray | list[np.ndarray]:
        """Return heatmaps ``(N, 1, *spatial)`` at the input resolution (a list when sizes differ).

        ``normalize``: None (raw values), ``"local"`` (each map by its own range) or ``"global"`` (by statistics of
        normal validation heatmaps, comparable across samples). ``spacing``: as for :meth:`score`.
        """

    def score_and_explain(
        self, x: ArrayBatch, normalize: str | None = None, spacing: Any = None
    ) -> tuple[np.ndarray, np.ndarray | list[np.ndarray]]:
        """Return ``score(x)`` and ``explain(x, normalize)``; detectors that get both from one pass override it."""
        return self.score(x, spacing=spacing), self.explain(x, normalize=normalize, spacing=spacing)

    @abstractmethod
    def save(self, path: str | Path) -> Path:
        """Write everything ``load`` needs into the folder ``path``; return it."""

    @classmethod
    @abstractmethod
    def load(cls, path: str | Path, device: str = "auto") -> Detector:
        """Rebuild a fitted detector from a folder written by ``save``."""

    def predict(self, x: ArrayBatch, spacing: Any = None) -> np.ndarray:
        """Return ``(N,)`` booleans: True where ``score >= threshold_`` (:func:`seedlens.evaluation.is_anomalous`)."""
        from seedlens.evaluation import is_anomalous

        self._check_fitted()
        return is_anomalous(self.score(x, spacing=spacing), self.threshold_)

    @property
    def is_fitted(self) -> bool:
        """Whether ``fit`` (or ``load``) has run."""
        return hasattr(self, "threshold_")

    @classmethod
    def _read_saved(cls, path: str | Path, *extra_files: str) -> tuple[Path, dict[str, Any], dict[str, Any]]:
        """Check a saved folder of this detector type; return ``(folder, constructor params, state)``.

        Raises:
            ReadError: a file of the folder is missing.
            ConfigError: the folder holds another detector type.
        """
        import json

        from seedlens.config import load_yaml
        from seedlens.errors import ConfigError, ReadError

        folder = Path(path)
        for name in (CONFIG_FILE, *extra_files, STATE_FILE):
            if not (folder / name).is_file():
                raise ReadError(folder / name, "missing: not a saved seedlens detector folder")
        header = load_yaml(folder / CONFIG_FILE)
        if header.get("detector") != cls.name:
            raise ConfigError(f"{folder}: holds a {header.get('detector')!r} detector, not {cls.name!r}")
        return folder, dict(header["config"]), json.loads((folder / STATE_FILE).read_text())

    def _start_saving(self, path: str | Path) -> Path:
        """Check the detector is fitted, create the folder ``path`` and write its config header; return the folder."""
        from seedlens.config import save_yaml, to_dict

        self._check_fitted()
        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        save_yaml({"detector": self.name, "config": to_dict(self.config_)}, folder / CONFIG_FILE)
        return folder

    def _normalized(self, maps: list[np.ndarray], normalize: str | None) -> list[np.ndarray]:
        """Raw maps ``(1, *spatial)`` as ``explain`` returns them: unchanged, ``local`` or ``global`` scaled.

        Uses the fitted ``normalizer_`` and ``config_.heatmap_quantile`` every detector with heatmaps keeps.
        """
        from seedlens.explain import normalize_local

        if normalize == "local":
            return [normalize_local(m[None], quantile=self.config_.heatmap_quantile)[0] for m in maps]
        if normalize == "global":
            return [self.normalizer_.transform(m[None])[0] for m in maps]
        return maps

    def _check_fitted(self) -> None:
        if not self.is_fitted:
            raise NotFittedError(
                f"this {type(self).__name__} is not fitted yet; call fit(data) or {type(self).__name__}.load(run)"
            )


def _default(field: dataclasses.Field[Any]) -> Any:
    """A dataclass field's declared default (a fresh one from its factory); ``MISSING`` when it has none."""
    if field.default is not dataclasses.MISSING:
        return field.default
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return dataclasses.MISSING


def check_normalize(normalize: str | None) -> None:
    """Raise a ConfigError unless ``normalize`` is None, ``"local"`` or ``"global"``."""
    if normalize not in (None, "local", "global"):
        raise ConfigError(f"normalize must be None, 'local' or 'global'; got {normalize!r}")
