"""Fixed-size figure layout shared by the renderers: a row of panels, a colour bar, a title band; atomic PNG save."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure

from seedlens.atomic import atomic_path

# Layout in inches. The PNG is always FIG_HEIGHT * dpi pixels tall; its width follows the panels' aspect ratios.
PANEL_H = 4.0
TOP = 0.85  # figure title band + panel titles
BOTTOM = 0.55  # room for a plot panel's x label
LEFT = 0.25
GAP = 0.3
PLOT_PAD = 0.65  # extra room left of a plot panel for its y ticks
CBAR_GAP = 0.2
CBAR_W = 0.18
RIGHT = 0.8  # colour-bar tick labels and label
FIG_HEIGHT = TOP + PANEL_H + BOTTOM
MIN_ASPECT, MAX_ASPECT = 0.3, 3.5


def panel_widths(aspects: Sequence[float]) -> list[float]:
    """Width in inches of each panel (width/height ``aspect``, clamped so no panel gets absurdly thin or wide)."""
    return [PANEL_H * float(np.clip(a, MIN_ASPECT, MAX_ASPECT)) for a in aspects]


def figure_width(aspects: Sequence[float], plots: int = 0) -> float:
    """Figure width in inches for image panels of ``aspects`` plus ``plots`` line-plot panels (aspect 1.25)."""
    widths = panel_widths(list(aspects) + [1.25] * plots)
    return LEFT + sum(widths) + GAP * (len(widths) - 1) + PLOT_PAD * plots + CBAR_GAP + CBAR_W + RIGHT


def make_figure(
    aspects: Sequence[float], title: str | None, plots: int = 0, dpi: int = 100
) -> tuple[Figure, list[Axes], Axes]:
    """Return a figure with one axes per image panel, then ``plots`` plot axes, and a colour-bar axes."""
    width = figure_width(aspects, plots)
    fig = Figure(figsize=(width, FIG_HEIGHT), dpi=dpi)
    FigureCanvasAgg(fig)
    axes: list[Axes] = []
    x = LEFT
    kinds = ["image"] * len(aspects) + ["plot"] * plots
    for w, kind in zip(panel_widths(list(aspects) + [1.25] * plots), kinds, strict=True):
        if kind == "plot":
            x += PLOT_PAD
        axes.append(fig.add_axes((x / width, BOTTOM / FIG_HEIGHT, w / width, PANEL_H / FIG_HEIGHT)))
        x += w + GAP
    x += CBAR_GAP - GAP
    cax = fig.add_axes((x / width, BOTTOM / FIG_HEIGHT, CBAR_W / width, PANEL_H / FIG_HEIGHT))
    if title:
        fig.text(0.5, 1 - 0.3 / FIG_HEIGHT, title, ha="center", va="center", fontsize=13, weight="bold")
    return fig, axes, cax


def add_colorbar(fig: Figure, cax: Axes, cmap: str, label: str = "anomaly (normalised)") -> None:
    """Draw a 0–1 colour bar of ``cmap`` into ``cax``."""
    bar = fig.colorbar(ScalarMappable(norm=Normalize(0.0, 1.0), cmap=cmap), cax=cax)
    bar.set_label(label)


def image_axes(ax: Axes, title: str) -> None:
    """Title an image panel and hide its ticks."""
    ax.set_title(title, fontsize=10)
    ax.set_xticks([])
    ax.set_yticks([])


def save_png(fig: Figure, path: str | Path) -> Path:
    """Write ``fig`` to ``path`` as PNG atomically (temporary file in the same folder, then rename)."""
    target = Path(path)
    with atomic_path(target) as temporary, open(temporary, "wb") as handle:
        fig.savefig(handle, format="png", dpi=fig.dpi)
    return target
