"""A run opened for viewing: its detector, the samples it scored, and each sample's layers on demand."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import numpy as np

from seedlens.errors import ConfigError, UnknownNameError
from seedlens.viewer.sample_view import NORMALIZATIONS, SampleView, ViewCache, heat_levels

#: Bins of the score histogram a page draws.
HISTOGRAM_BINS = 30


class RunSession:
    """A saved run with the samples to show: those ``seedlens eval`` recorded, or a data source scored now.

    Args:
        run: Run folder written by ``seedlens train``.
        data: A manifest or dataset folder to score now (its ``split``); None: the samples of the run's last
            ``seedlens eval`` (``RUN/samples.json``).
        split: Split of ``data`` to show.
        normal_class: Normal label of ``data`` (default: the one the run was trained with).
        device: Where the detector runs (``auto``, ``cpu``, ``cuda``...).
        progress: Called with a line of text while ``data`` is scored.

    Raises:
        DataSourceError: no ``data`` and no ``samples.json``, or an empty split.
    """

    def __init__(self, run: str | Path, data: str | Path | None = None, split: str = "test",
                 normal_class: str | None = None, device: str = "auto",
                 progress: Callable[[str], None] | None = None) -> None:
        from seedlens.cli._common import read_run_info
        from seedlens.data.records import Record
        from seedlens.data.samples import RecordSamples
        from seedlens.detectors import load_detector
        from seedlens.workflows.evaluate import SAMPLES_FILE, read_sample_rows

        self.run = Path(run)
        self.detector: Any = cast(Any, load_detector(self.run, device=device))  # every one has modality_
        self.split = split
        if data is not None:
            self.rows, self.records = self._score(data, split, normal_class or read_run_info(self.run).get(
                "normal_class"), progress)
            self.source = str(data)
        else:
            content = read_sample_rows(self.run / SAMPLES_FILE)
            self.rows = content["samples"]
            self.split = str(content.get("split", split))
            self.records = [Record(Path(r["path"]), str(r["label"]), self.split, bool(r["is_anomalous"]),
                                   mask=Path(r["mask"]) if r.get("mask") else None,
                                   object_mask=Path(r["object_mask"]) if r.get("object_mask") else None)
                            for r in self.rows]
            self.source = str(self.run / SAMPLES_FILE)
        self.samples = RecordSamples(self.records, self.detector.modality_)
        self.cache = ViewCache()

    def _score(self, data: str | Path, split: str, normal_class: str | None,
               progress: Callable[[str], None] | None) -> tuple[list[dict[str, Any]], list[Any]]:
        from seedlens.data import open_source
        from seedlens.data.samples import RecordSamples
        from seedlens.errors import DataSourceError
        from seedlens.workflows.evaluate import _score_split, sample_rows

        records = open_source(data, normal_class=normal_class).records(split)
        if not records:
            raise DataSourceError(f"{data}: the {split!r} split is empty")
        if progress is not None:
            progress(f"scoring {len(records)} samples of {data} ({split})")
        has_masks = any(r.mask is not None for r in records)
        scores, maps, masks, _ = _score_split(self.detector, RecordSamples(records, self.detector.modality_),
                                              has_masks)
        rows = sample_rows(records, scores, self.detector.threshold_, maps if has_masks else None,
                           masks if has_masks else None)
        return rows, records

    def overview(self) -> dict[str, Any]:
        """The run, its threshold, every sample row, the ROC curve (when both classes are present) and a histogram."""
        from sklearn.metrics import roc_auc_score, roc_curve

        scores = np.asarray([r["score"] for r in self.rows], dtype=np.float64)
        labels = np.asarray([int(r["is_anomalous"]) for r in self.rows])
        roc = None
        if len(set(labels.tolist())) == 2:
            fpr, tpr, _ = roc_curve(labels, scores)
            roc = {"fpr": fpr.tolist(), "tpr": tpr.tolist(), "auroc": float(roc_auc_score(labels, scores))}
        edges = np.histogram_bin_edges(scores, bins=HISTOGRAM_BINS) if scores.size else np.zeros(1)
        histogram = {"edges": edges.tolist(),
                     "normal": np.histogram(scores[labels == 0], bins=edges)[0].tolist() if scores.size else [],
                     "anomalous": np.histogram(scores[labels == 1], bins=edges)[0].tolist() if scores.size else []}
        columns = ["id", "label", "score", "anomalous"]
        if any("defects" in r for r in self.rows):
            columns += ["defects", "pixel_auroc", "aupro"]
        return {
            "run": self.run.name, "detector": self.detector.name, "modality": self.detector.modality_.value,
            "threshold": float(self.detector.threshold_), "split": self.split, "source": self.source,
            "columns": columns,
            "samples": [{"index": i, **{k: r.get(k) for k in (*columns, "is_anomalous")}}
                        for i, r in enumerate(self.rows)],
            "roc": roc, "histogram": histogram,
        }

    def view(self, index: int, modality: str | None = None) -> SampleView:
        """Sample ``index`` with its heatmaps, computed on first use and kept while memory allows.

        Raises:
            UnknownNameError: no sample ``index``.
            ConfigError: a ``modality`` named (a detector run has one scan per sample).
        """
        if modality is not None:
            raise ConfigError(f"this run's samples are single scans; got modality={modality!r}")
        if not 0 <= index < len(self.rows):
            raise UnknownNameError(f"no sample {index}: this run shows samples 0 to {len(self.rows) - 1}")
        return self.cache.get(index, lambda: self._build(index))

    def _build(self, index: int) -> SampleView:
        sample = self.samples.load(index)
        raw = self.detector.explain([sample.array], spacing=[sample.meta.voxel_size])[0]
        return SampleView(array=sample.array, kind=self.detector.modality_.value, spacing=sample.meta.voxel_size,
                          wavelengths=sample.meta.wavelengths, mask=sample.mask,
                          heat=heat_levels(np.asarray(raw), self._normalized))

    def _normalized(self, raw: np.ndarray, mode: str) -> np.ndarray:
        if mode not in NORMALIZATIONS:
            raise ConfigError(f"normalize must be one of {NORMALIZATIONS}; got {mode!r}")
        maps: list[np.ndarray] = self.detector._normalized([raw], mode)
        return maps[0]

    def sample(self, index: int) -> dict[str, Any]:
        """One sample's row and layout (:meth:`SampleView.describe`)."""
        view = self.view(index)  # checks the index
        return {"index": index, **self.rows[index], **view.describe(), "threshold": float(self.detector.threshold_)}
