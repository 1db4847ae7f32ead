"""Evaluate a fitted detector on a data source: metrics, ROC plot, heatmap gallery and a report."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from seedlens.config import atomic_write_bytes, to_dict
from seedlens.errors import DataSourceError

METRICS_FILE = "metrics.json"
REPORT_FILE = "report.html"


@dataclass
class EvaluationResult:
    """What :func:`evaluate_detector` measured and wrote.

    Attributes:
        metrics: The detection metrics (``seedlens.evaluation.DetectionMetrics``).
        scores: Sample scores ``(N,)`` in record order.
        labels: 1 = anomalous, 0 = normal, ``(N,)``.
        paths: Source file of each scored sample.
        metrics_path: The written ``metrics.json``.
        report_path: The written ``report.html``.
        figures: Pictures embedded in the report, as ``(caption, path)``.
    """

    metrics: Any
    scores: np.ndarray
    labels: np.ndarray
    paths: list[Path]
    metrics_path: Path
    report_path: Path
    figures: list[tuple[str, Path]]


def evaluate_detector(
    detector: Any,
    source: Any,
    out_dir: str | Path,
    split: str = "test",
    gallery: int = 8,
    title: str = "seedlens evaluation",
) -> EvaluationResult:
    """Score the ``split`` of ``source``, compute the metrics and write ``metrics.json`` and ``report.html``.

    Pixel/voxel metrics (pooled pixel AUROC, AUROC inside the object mask, AUPRO) are computed when the
    records carry ground-truth masks; the sample score pooling the detector used is recorded with them.

    Args:
        detector: A fitted deep detector (``FCDD``, ``HSC``, ``Autoencoder``...).
        source: A data source with ``records(split)`` (manifest, folder, hub...).
        out_dir: Folder receiving ``metrics.json``, the figures and ``report.html``.
        split: Which split to evaluate.
        gallery: How many heatmaps to render (half the highest-scoring anomalies, half normals).
        title: Report title.

    Raises:
        DataSourceError: the split is empty or holds only one class.
    """
    from seedlens.data.samples import RecordSamples
    from seedlens.evaluation import compute_detection_metrics, plot_roc, plot_score_histogram, write_report_html

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    records = source.records(split)
    if not records:
        raise DataSourceError(f"{getattr(source, 'root', source)}: the {split!r} split is empty")
    samples = RecordSamples(records, detector.modality_)
    labels = np.array([int(r.is_anomalous) for r in records])
    has_masks = any(r.mask is not None for r in records)
    scores, maps, masks, object_masks = _score_split(detector, samples, has_masks)
    metrics = compute_detection_metrics(
        labels,
        scores,
        threshold=detector.threshold_,
        label_names=[r.label for r in records],
        masks=masks if has_masks else None,
        maps=maps if has_masks else None,
        object_masks=object_masks if has_masks and all(m is not None for m in object_masks) else None,
    )
    metrics.score_pooling = getattr(detector, "score_pooling_", None) or detector.config_.score_pooling
    metrics_path = out / METRICS_FILE
    payload = {**metrics.to_dict(), "split": split, "detector": detector.name, "n_samples": len(records)}
    atomic_write_bytes(metrics_path, json.dumps(payload, indent=2).encode())

    figures: list[tuple[str, Path]] = []
    if len(set(labels.tolist())) == 2:
        figures.append(("ROC curve", plot_roc(labels, scores, out / "roc.png", title=f"ROC ({split})")))
    figures.append(
        ("Score distribution", plot_score_histogram(labels, scores, detector.threshold_, out / "scores.png"))
    )
    figures += _gallery(detector, samples, labels, scores, out / "heatmaps", gallery)
    report = write_report_html(out / REPORT_FILE, title, metrics, figures, settings=report_settings(detector))
    paths = [r.path for r in records]
    return EvaluationResult(metrics, np.asarray(scores), labels, paths, metrics_path, report, figures)


def report_settings(detector: Any) -> dict[str, Any]:
    """The detector's name, options and threshold as the report lists them; an automatic budget as it came out."""
    settings = {"detector": detector.name, **to_dict(detector.config_), "threshold": detector.threshold_}
    if "epochs" in settings and settings["epochs"] is None:
        from seedlens.detectors.config import AUTO_MIN_STEPS

        budget = getattr(detector, "budget_", None)  # None for detectors saved before the budget was recorded
        settings["epochs"] = (f"auto: {budget['epochs']} passes of {budget['samples_per_epoch']} samples"
                              if budget else f"auto (at least {AUTO_MIN_STEPS} steps)")
    return settings


def _score_split(
    detector: Any, samples: Any, with_maps: bool, chunk: int = 16
) -> tuple[np.ndarray, list[np.ndarray], list[np.ndarray], list[np.ndarray | None]]:
    """Scores of a split, and with ground truth its maps (on each sample's grid) and masks.

    Samples are read ``chunk`` at a time: only maps and masks stay in memory, never the scans.
    """
    scores: list[float] = []
    maps: list[np.ndarray] = []
    masks: list[np.ndarray] = []
    object_masks: list[np.ndarray | None] = []
    for start in range(0, len(samples), chunk):
        loaded = [samples.load(i) for i in range(start, min(start + chunk, len(samples)))]
        arrays = [s.array for s in loaded]
        spacing = [s.meta.voxel_size for s in loaded]
        if with_maps:
            chunk_scores, chunk_maps = detector.score_and_explain(arrays, spacing=spacing)
            maps += list(chunk_maps)
            masks += [s.mask if s.mask is not None else np.zeros((1, *s.array.shape[1:]), bool) for s in loaded]
            object_masks += [s.object_mask for s in loaded]
        else:
            chunk_scores = detector.score(arrays, spacing=spacing)
        scores += [float(v) for v in chunk_scores]
        del loaded, arrays
    return np.asarray(scores), maps, masks, object_masks


def _gallery(
    detector: Any, samples: Any, labels: np.ndarray, scores: np.ndarray, folder: Path, count: int
) -> list[tuple[str, Path]]:
    """Render heatmaps of the highest-scoring anomalies and normals, each scaled to its own range (where)."""
    from seedlens.workflows.rendering import render_heatmap

    if count <= 0:
        return []
    order = np.argsort(-np.asarray(scores))
    anomalous = [i for i in order if labels[i] == 1][: (count + 1) // 2]
    normal = [i for i in order if labels[i] == 0][: count // 2]
    figures: list[tuple[str, Path]] = []
    for i in [int(i) for i in anomalous + normal]:
        sample = samples.load(i)
        heat = detector.explain([sample.array], normalize="local", spacing=[sample.meta.voxel_size])[0]
        record = sample.record
        caption = f"{record.label} · score {scores[i]:.3f} · {Path(record.path).name}"
        paths = render_heatmap(
            sample.array, heat, sample.meta, folder / f"{i:04d}_{Path(record.path).name.split('.')[0]}",
            title=caption, mask=sample.mask,
        )
        figures.append((caption, paths[0]))
    return figures
