"""Evaluate a fitted detector on a data source: metrics, ROC plot, heatmap gallery and a report."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from seedlens.config import atomic_write_bytes, to_dict
from seedlens.errors import DataSourceError

METRICS_FILE = "metrics.json"
REPORT_FILE = "report.html"
#: One row per evaluated sample (what ``seedlens view`` lists): file, label, score, decision, per-defect metrics.
SAMPLES_FILE = "samples.json"


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
        samples_path: The written ``samples.json`` (see :func:`sample_rows`).
        figures: Pictures embedded in the report, as ``(caption, path)``.
    """

    metrics: Any
    scores: np.ndarray
    labels: np.ndarray
    paths: list[Path]
    metrics_path: Path
    report_path: Path
    samples_path: Path
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
    rows = sample_rows(records, scores, detector.threshold_, maps if has_masks else None, masks if has_masks else None)
    samples_path = write_sample_rows(out / SAMPLES_FILE, rows, split=split, detector=detector.name,
                                     threshold=detector.threshold_)

    figures: list[tuple[str, Path]] = []
    if len(set(labels.tolist())) == 2:
        figures.append(("ROC curve", plot_roc(labels, scores, out / "roc.png", title=f"ROC ({split})")))
    figures.append(
        ("Score distribution", plot_score_histogram(labels, scores, detector.threshold_, out / "scores.png"))
    )
    figures += _gallery(detector, samples, labels, scores, out / "heatmaps", gallery)
    report = write_report_html(out / REPORT_FILE, title, metrics, figures, settings=report_settings(detector))
    paths = [r.path for r in records]
    return EvaluationResult(metrics, np.asarray(scores), labels, paths, metrics_path, report, samples_path, figures)


def sample_rows(records: list[Any], scores: Any, threshold: float, maps: list[np.ndarray] | None = None,
                masks: list[np.ndarray] | None = None) -> list[dict[str, Any]]:
    """One row per scored record: its files, label, score, decision and, with a ground truth, per-defect metrics.

    Args:
        records: The scored records (``seedlens.data.records.Record``).
        scores: Their scores ``(N,)``.
        threshold: The decision threshold (``anomalous`` is ``score >= threshold``).
        maps: Raw anomaly maps ``(1, *spatial)`` per record, when the records carry masks.
        masks: Ground-truth masks ``(1, *spatial)`` per record (all zero where a record has none).

    Returns:
        Dicts with ``id``, ``path``, ``mask``, ``object_mask``, ``label``, ``is_anomalous``, ``score`` and
        ``anomalous``; where a sample's mask marks a defect also ``defects`` (connected regions), ``pixel_auroc``
        and ``aupro`` of that sample's map (None when its map or mask leaves them undefined).
    """
    from seedlens.evaluation import aupro, is_anomalous, pixel_auroc

    flags = is_anomalous(np.asarray(scores, dtype=np.float64), threshold)
    names = [Path(r.path).name for r in records]
    repeated = {name for name, n in Counter(names).items() if n > 1}
    rows: list[dict[str, Any]] = []
    for i, record in enumerate(records):
        row: dict[str, Any] = {
            "id": str(record.path) if names[i] in repeated else names[i],
            "path": str(record.path), "mask": str(record.mask) if record.mask else None,
            "object_mask": str(record.object_mask) if record.object_mask else None,
            "label": record.label, "is_anomalous": bool(record.is_anomalous),
            "score": float(scores[i]), "anomalous": bool(flags[i]),
        }
        if maps is not None and masks is not None and np.any(masks[i]):
            row.update(_defect_metrics(masks[i], maps[i], pixel_auroc, aupro))
        rows.append(row)
    return rows


def _defect_metrics(mask: np.ndarray, amap: np.ndarray, pixel_auroc: Any, aupro: Any) -> dict[str, Any]:
    """Connected defect regions of one sample's mask and how well its own map finds them."""
    from scipy import ndimage

    from seedlens.errors import SeedlensError

    _, regions = ndimage.label(np.asarray(mask)[0] > 0)
    found: dict[str, Any] = {"defects": int(regions), "pixel_auroc": None, "aupro": None}
    try:
        found["pixel_auroc"] = pixel_auroc([mask], [amap])
        found["aupro"] = aupro([mask], [amap], num_thresholds=200)
    except SeedlensError:  # a mask covering the whole sample: no normal pixel to compare with
        pass
    return found


def write_sample_rows(path: Path, rows: list[dict[str, Any]], **about: Any) -> Path:
    """Write :func:`sample_rows` output with what produced it (``split``, ``detector``, ``threshold``...)."""
    atomic_write_bytes(path, json.dumps({**about, "samples": rows}, indent=1).encode())
    return path


def read_sample_rows(path: Path) -> dict[str, Any]:
    """Read a file :func:`write_sample_rows` wrote.

    Raises:
        DataSourceError: the file is missing or is not such a file, naming it.
    """
    try:
        content = json.loads(path.read_text())
    except FileNotFoundError as err:
        raise DataSourceError(f"{path}: no evaluated samples here; run `seedlens eval RUN DATA` first, "
                              "or give --data") from err
    except (OSError, ValueError) as err:
        raise DataSourceError(f"{path}: not a samples file written by `seedlens eval` ({err})") from err
    if not isinstance(content, dict) or not isinstance(content.get("samples"), list):
        raise DataSourceError(f"{path}: not a samples file written by `seedlens eval` (no 'samples' list)")
    return content


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
