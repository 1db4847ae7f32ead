"""A picture of a split scan: every grain in its own colour, over a projection of the scan, with its number."""

from __future__ import annotations

from pathlib import Path

import numpy as np

_GOLDEN = 0.618033988749895


def grain_colours(count: int) -> np.ndarray:
    """``(count + 1, 3)`` float RGB in [0, 1]; row 0 (background) is black, neighbours differ in hue."""
    import matplotlib.colors as mcolors

    hues = (np.arange(count) * _GOLDEN) % 1.0
    rgb = mcolors.hsv_to_rgb(np.stack([hues, np.full(count, 0.75), np.full(count, 0.95)], axis=1))
    return np.vstack([np.zeros((1, 3)), rgb])


def _view(volume: np.ndarray, labels: np.ndarray, axis: int, colours: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The front-most grain along ``axis`` over the scan's maximum projection, shaded by depth.

    Returns the picture and the front grain's label per pixel.
    """
    grain = labels > 0
    hit = grain.any(axis=axis)
    first = np.argmax(grain, axis=axis)
    front = np.take_along_axis(labels, np.expand_dims(first, axis), axis=axis).squeeze(axis)
    front[~hit] = 0
    projection = volume.max(axis=axis).astype(np.float64)
    span = np.ptp(projection) or 1.0
    grey = (projection - projection.min()) / span
    depth = 1.0 - 0.5 * first / max(labels.shape[axis] - 1, 1)
    rgb = np.repeat(grey[..., None] * 0.6, 3, axis=-1)
    rgb[hit] = colours[front[hit]] * depth[hit, None]
    return rgb, front


def render_split(volume: np.ndarray, labels: np.ndarray, path: str | Path, title: str = "") -> Path:
    """Save a PNG of a split scan seen along its two short axes, each grain coloured and numbered where it shows.

    Args:
        volume: ``(D, H, W)`` scan.
        labels: ``(D, H, W)`` grain labels (0 = not a grain).
        path: PNG to write.
        title: Figure title.

    Returns:
        The path written.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from scipy import ndimage

    array = np.asarray(volume)
    array = array[0] if array.ndim == 4 else array
    count = int(labels.max())
    colours = grain_colours(count)
    views = [(axis, *_view(array, labels, axis, colours)) for axis in (1, 2)]
    height = array.shape[0]
    widths = [view.shape[1] for _, view, _ in views]
    fig, axes = plt.subplots(1, 2, figsize=(2 + sum(widths) / 40, 1 + height / 40),
                             gridspec_kw={"width_ratios": widths}, squeeze=False, layout="constrained")
    for ax, (axis, view, front) in zip(axes[0], views, strict=True):
        ax.imshow(view, interpolation="nearest", aspect="equal")
        visible = [k for k in range(1, count + 1) if np.any(front == k)]
        # Each number at the middle of what shows of its grain: a grain hidden behind others gets none here.
        for index, (row, col) in zip(visible, ndimage.center_of_mass(front > 0, front, visible), strict=True):
            ax.text(col, row, str(index), color="white", fontsize=6, ha="center", va="center", fontweight="bold")
        ax.set_title(f"seen along axis {axis}", fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(title or f"{count} grains", fontsize=9)
    from seedlens.atomic import atomic_path

    target = Path(path)
    try:
        with atomic_path(target) as temporary:
            fig.savefig(temporary, format="png", dpi=100, bbox_inches="tight")
    finally:
        plt.close(fig)
    return target
