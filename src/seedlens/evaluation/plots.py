"""Evaluation figures written as PNG files: ROC curve and score histogram.

Figures are drawn with matplotlib's object API on the Agg canvas (no pyplot global state, no
display needed), so plotting is safe in worker threads and on headless machines.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from sklearn.metrics import roc_auc_score, roc_curve

from seedlens.evaluation._checks import labels_and_scores, require_both_classes
from seedlens.evaluation._files import atomic_write_bytes
from seedlens.evaluation.decision import is_anomalous

__all__ = ["plot_roc", "plot_score_histogram"]

_NORMAL = "#3b75af"
_ANOMALOUS = "#d1495b"
_ACCENT = "#222222"


def _new_figure(width: float, height: float) -> tuple[Figure, Any]:
    """A figure with one axes, styled once for every plot here."""
    fig = Figure(figsize=(width, height), dpi=120, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.grid(True, color="#e5e5e5", linewidth=0.8)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return fig, ax


def _save(fig: Figure, path: str | Path) -> Path:
    """Render ``fig`` as PNG into ``path`` atomically."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", facecolor="white")
    return atomic_write_bytes(Path(path), buf.getvalue())


def plot_roc(
    labels: Any,
    scores: Any,
    path: str | Path,
    title: str | None = None,
    threshold: float | None = None,
) -> Path:
    """Plot the ROC curve (AUC in the legend) and mark the operating point of ``threshold``.

    Args:
        labels: ``(N,)`` 0/1 or bool, 1 = anomalous (positive).
        scores: ``(N,)`` anomaly scores, higher = more anomalous.
        path: PNG file to write (parent folders are created; the write is atomic).
        title: Figure title; default ``"ROC curve"``.
        threshold: Fitted decision threshold; its (FPR, TPR) with ``score >= threshold`` is marked.

    Returns:
        ``path`` as a ``Path``.

    Raises:
        ConfigError: when labels hold one class only.
    """
    y, s = labels_and_scores(labels, scores)
    require_both_classes(y, "plot_roc")
    fpr, tpr, _ = roc_curve(y, s)
    auc = float(roc_auc_score(y, s))
    fig, ax = _new_figure(4.8, 4.8)
    ax.plot([0, 1], [0, 1], linestyle="--", color="#9a9a9a", linewidth=1, label="chance")
    ax.plot(fpr, tpr, color=_NORMAL, linewidth=2, label=f"ROC (AUC = {auc:.3f})")
    if threshold is not None:
        flagged = is_anomalous(s, threshold)
        op_fpr = float(np.mean(flagged[~y]))
        op_tpr = float(np.mean(flagged[y]))
        ax.scatter(
            [op_fpr],
            [op_tpr],
            s=60,
            color=_ANOMALOUS,
            edgecolor="white",
            linewidth=1.2,
            zorder=5,
            label=f"threshold {threshold:.4g} (FPR {op_fpr:.2f}, TPR {op_tpr:.2f})",
        )
    ax.set_xlim(-0.01, 1.01)
    ax.set_ylim(-0.01, 1.01)
    ax.set_aspect("equal")
    ax.set_xlabel("false positive rate (normal flagged)")
    ax.set_ylabel("true positive rate (anomalies found)")
    ax.set_title(title or "ROC curve")
    ax.legend(loc="lower right", frameon=True, framealpha=0.9, fontsize="small")
    ax.text(
        0.02,
        0.98,
        f"{int((~y).sum())} normal, {int(y.sum())} anomalous",
        transform=ax.transAxes,
        va="top",
        fontsize="small",
        color="#555555",
    )
    return _save(fig, path)


def plot_score_histogram(
    labels: Any,
    scores: Any,
    threshold: float | None,
    path: str | Path,
    title: str | None = None,
) -> Path:
    """Plot overlaid histograms of normal and anomalous scores with the threshold as a vertical line.

    Args:
        labels: ``(N,)`` 0/1 or bool, 1 = anomalous.
        scores: ``(N,)`` anomaly scores.
        threshold: Decision threshold to draw, or None.
        path: PNG file to write (atomic).
        title: Figure title; default ``"Anomaly scores"``.

    Returns:
        ``path`` as a ``Path``.
    """
    y, s = labels_and_scores(labels, scores)
    fig, ax = _new_figure(6.0, 3.8)
    edges = np.histogram_bin_edges(s, bins=min(50, max(10, int(np.sqrt(s.size)) * 2)))
    for mask, name, colour in ((~y, "normal", _NORMAL), (y, "anomalous", _ANOMALOUS)):
        if mask.any():
            ax.hist(s[mask], bins=edges, color=colour, alpha=0.55, label=f"{name} (n={int(mask.sum())})")
    if threshold is not None:
        ax.axvline(float(threshold), color=_ACCENT, linestyle="--", linewidth=1.4, label=f"threshold {threshold:.4g}")
    ax.set_xlabel("anomaly score (higher = more anomalous)")
    ax.set_ylabel("samples")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title(title or "Anomaly scores")
    ax.legend(frameon=True, framealpha=0.9, fontsize="small")
    return _save(fig, path)
