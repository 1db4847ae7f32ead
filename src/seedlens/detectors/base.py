"""The Detector protocol every anomaly detector of seedlens follows.

Anomaly scores have one meaning everywhere: **higher score = more anomalous**. ``score`` returns one
number per sample, ``explain`` one heatmap per sample at the input's own resolution, ``predict`` compares
scores with the threshold fitted on normal validation scores (their 0.95 quantile unless set otherwise): a sample
is anomalous when ``score >= threshold`` (:func:`seedlens.evaluation.is_anomalous`, the rule everywhere).

The estimator contract follows scikit-learn: the constructor only stores its keyword arguments (as a
typed config), ``fit`` validates them and returns ``self``, fitted state ends in ``_``, and any method
that needs a fitted detector raises :class:`~seedlens.errors.NotFittedError` before ``fit``.
"""

from __future__ import annotations

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

    Subclasses implement ``fit``, ``score``, ``explain``, ``save`` and ``load``; ``predict`` and the
    fitted-state checks live here.
    """

    #: Registry name of the detector (``"fcdd"``, ``"hsc"``...).
    name: ClassVar[str] = ""

    threshold_: float
    #: The validated options (a dataclass with ``heatmap_quantile``) and the heatmap normaliser, set by ``fit``.
    config_: Any
    normalizer_: Any

    @abstractmethod
    def fit(
        self, data: Any, *, run_dir: str | Path | None = None, resume: bool = False, progress: bool = True
    ) -> Detector:
        """Fit on normal data (plus whatever anomalies the method synthesises or is given); return ``self``."""

    @abstractmethod
    def score(self, x: ArrayBatch) -> np.ndarray:
        """Return anomaly scores ``(N,)``, higher = more anomalous."""

    @abstractmethod
    def explain(self, x: ArrayBatch, normalize: str | None = None) -> np.ndarray | list[np.ndarray]:
        """Return heatmaps ``(N, 1, *spatial)`` at the input resolution (a list when sizes differ).

        ``normalize``: None (raw values), ``"local"`` (each map by its own range) or ``"global"`` (by statistics of
        normal validation heatmaps, comparable across samples).
        """

    def score_and_explain(
        self, x: ArrayBatch, normalize: str | None = None
    ) -> tuple[np.ndarray, np.ndarray | list[np.ndarray]]:
        """Return ``score(x)`` and ``explain(x, normalize)``; detectors that get both from one pass override it."""
        return self.score(x), self.explain(x, normalize=normalize)

    @abstractmethod
    def save(self, path: str | Path) -> Path:
        """Write everything ``load`` needs into the folder ``path``; return it."""

    @classmethod
    @abstractmethod
    def load(cls, path: str | Path, device: str = "auto") -> Detector:
        """Rebuild a fitted detector from a folder written by ``save``."""

    def predict(self, x: ArrayBatch) -> np.ndarray:
        """Return ``(N,)`` booleans: True where ``score >= threshold_`` (:func:`seedlens.evaluation.is_anomalous`)."""
        from seedlens.evaluation import is_anomalous

        self._check_fitted()
        return is_anomalous(self.score(x), self.threshold_)

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


def check_normalize(normalize: str | None) -> None:
    """Raise a ConfigError unless ``normalize`` is None, ``"local"`` or ``"global"``."""
    if normalize not in (None, "local", "global"):
        raise ConfigError(f"normalize must be None, 'local' or 'global'; got {normalize!r}")
