"""Render heatmaps over images, volumes and hyperspectral cubes as PNG files (matplotlib Agg, no screen needed).

Every PNG has a title band, one or more panels drawn at the data's true aspect ratio (and voxel spacing), and a
0–1 colour bar. The PNG is ``5.4 * dpi`` pixels tall (540 at the default ``dpi=100``); its width follows
the panels. Files are written atomically. Heatmaps are expected normalised to ``[0, 1]`` (see
:mod:`seedlens.explain.normalize`); values outside are clipped.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Literal, NamedTuple

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from seedlens.errors import ConfigError, ShapeError
from seedlens.explain import _figure
from seedlens.explain.nifti import save_heatmap_nifti

__all__ = ["cube_false_colour_png", "overlay_png", "save_heatmap_nifti", "volume_triplanar_png"]

#: Target wavelengths (nm) of the red, green and blue channels of a false-colour cube image.
RGB_WAVELENGTHS = (650.0, 550.0, 450.0)
#: Display percentiles come from at most this many values (a strided subsample of larger arrays; 16 MB as float64).
SAMPLE_VOXELS = 2_000_000
_SLAB_VOXELS = 1 << 18  # a volume's heatmap and mask are scanned in runs of planes this large (2 MiB as float64)


def _subsample(array: np.ndarray) -> np.ndarray:
    """A strided view of at most ``SAMPLE_VOXELS`` values spread evenly over ``array`` (``array`` itself if smaller)."""
    if array.size <= SAMPLE_VOXELS:
        return array
    step = max(2, math.floor((array.size / SAMPLE_VOXELS) ** (1 / array.ndim)))
    while math.prod(-(-n // step) for n in array.shape) > SAMPLE_VOXELS:
        step += 1
    return array[(slice(None, None, step),) * array.ndim]


def _display_range(array: np.ndarray, low_q: float = 1.0, high_q: float = 99.0) -> tuple[float, float] | None:
    """Two percentiles of the finite values (of a subsample of big arrays), or None when there is no contrast."""
    sample = np.asarray(_subsample(array), dtype=np.float64)
    finite = sample[np.isfinite(sample)]
    if finite.size == 0:
        return None
    low, high = np.percentile(finite, [low_q, high_q], overwrite_input=True)  # ``finite`` is a copy of our own
    if high <= low:
        low, high = finite.min(), finite.max()
    if high <= low:
        return None
    return float(low), float(high)


def _scaled(array: np.ndarray, limits: tuple[float, float] | None) -> np.ndarray:
    """``array`` as float64 in [0, 1] between ``limits`` (NaN counts as the low end); zeros when None."""
    values = np.asarray(array, dtype=np.float64)
    if limits is None:
        return np.zeros_like(values)
    low, high = limits
    return np.clip((np.nan_to_num(values, nan=low) - low) / (high - low), 0.0, 1.0)


def _stretch(array: np.ndarray, low_q: float = 1.0, high_q: float = 99.0) -> np.ndarray:
    """Scale to [0, 1] between two percentiles (robust display contrast)."""
    return _scaled(array, _display_range(array, low_q, high_q))


def _matching(array: Any, shape: tuple[int, ...], what: str) -> np.ndarray:
    """``array`` as an array of ``shape`` (a leading 1-channel axis is dropped), without converting or copying it."""
    values = np.asarray(array)
    if values.ndim == len(shape) + 1 and values.shape[0] == 1:
        values = values[0]
    if values.shape != shape:
        raise ShapeError(f"heatmap must match the {what} {shape}; got shape {values.shape}")
    return values


def _unit(values: Any) -> np.ndarray:
    """Values as float64 clipped to [0, 1], NaN as 0."""
    return np.clip(np.nan_to_num(np.asarray(values, dtype=np.float64)), 0.0, 1.0)


def _heat(heatmap: Any, shape: tuple[int, ...], what: str) -> np.ndarray:
    """Heatmap as float array of ``shape`` clipped to [0, 1] (a leading 1-channel axis is dropped)."""
    return _unit(_matching(heatmap, shape, what))


def _overlay(
    ax: Axes, heat: np.ndarray, cmap: str, aspect: float = 1.0, origin: Literal["upper", "lower"] = "upper"
) -> None:
    """Draw ``heat`` over what ``ax`` shows; opacity grows with the value, so cold regions show the data itself."""
    alpha = 0.75 * np.sqrt(heat)
    ax.imshow(heat, cmap=cmap, vmin=0.0, vmax=1.0, alpha=alpha, aspect=aspect, origin=origin, interpolation="nearest")


def _background(image: np.ndarray) -> tuple[np.ndarray, str | None, str]:
    """Display array (H, W) grey or (H, W, 3) RGB from a (C, H, W) image, its cmap and a description."""
    channels = image.shape[0]
    if channels == 3:
        return np.moveaxis(_stretch(image), 0, -1), None, "RGB"
    if channels == 1:
        return _stretch(image[0]), "gray", "grey"
    return _stretch(image.mean(axis=0)), "gray", f"mean of {channels} channels"


def overlay_png(
    image: Any,
    heatmap: Any,
    path: str | Path,
    title: str | None = None,
    *,
    cmap: str = "jet",
    dpi: int = 100,
    quantity: str = "anomaly",
) -> Path:
    """Write the image beside the image with the heatmap overlaid, and a colour bar, as a PNG.

    Args:
        image: ``(C, H, W)``: grey (C=1), RGB (C=3), or any other C (shown as the channel mean). Intensities are
            stretched between the 1st and 99th percentile for display.
        heatmap: ``(H, W)`` (or ``(1, H, W)``) in ``[0, 1]``.
        path: Output ``.png`` file (folders are created).
        title: Figure title.
        cmap: Colour map of the heatmap (``"jet"``, ``"inferno"``...).
        dpi: Pixels per inch; the PNG is ``5.4 * dpi`` pixels tall.
        quantity: What the heatmap shows, for titles and the colour bar (``"anomaly"``, ``"attribution"``).

    Returns:
        The path written.

    Raises:
        ShapeError: ``image`` is not ``(C, H, W)`` or the heatmap's shape differs from ``(H, W)``.
    """
    img = np.asarray(image, dtype=np.float64)
    if img.ndim != 3:
        raise ShapeError(f"image must be (C, H, W); got shape {img.shape}")
    heat = _heat(heatmap, img.shape[1:], "image's (H, W)")
    background, bg_cmap, kind = _background(img)
    aspect = img.shape[2] / img.shape[1]
    fig, (ax_in, ax_ov), cax = _figure.make_figure([aspect, aspect], title, dpi=dpi)
    for ax in (ax_in, ax_ov):
        ax.imshow(background, cmap=bg_cmap, vmin=0.0, vmax=1.0, interpolation="nearest")
    _overlay(ax_ov, heat, cmap)
    _figure.image_axes(ax_in, f"input ({kind}, {img.shape[1]}×{img.shape[2]})")
    _figure.image_axes(ax_ov, f"{quantity} heatmap (max {heat.max():.2f})")
    _figure.add_colorbar(fig, cax, cmap, f"{quantity} (normalised)")
    return _figure.save_png(fig, path)


class _View(NamedTuple):
    """One plane of a tri-planar view: which slice, its physical size and how to draw it."""

    name: str
    where: tuple[int | slice, ...]
    phys_height: float
    phys_width: float
    pixel_aspect: float  # physical height / width of one pixel
    origin: Literal["upper", "lower"]
    cross: tuple[int, int]  # row and column where the other planes cut


def _slabs(array: np.ndarray) -> Iterator[slice]:
    """Runs of whole planes along the first axis, each at most ``_SLAB_VOXELS`` values (at least one plane)."""
    step = max(1, _SLAB_VOXELS // max(1, math.prod(array.shape[1:])))
    for start in range(0, array.shape[0], step):
        yield slice(start, min(start + step, array.shape[0]))


def _focus(heat: np.ndarray) -> tuple[int, ...]:
    """Index of the (clipped) heatmap's first maximum, or the centre when the map is flat; one slab at a time."""
    best, lowest, found = -math.inf, math.inf, (0,) * heat.ndim
    for slab in _slabs(heat):
        values = _unit(heat[slab])
        top, lowest = float(values.max()), min(lowest, float(values.min()))
        if top > best:
            best = top
            index = np.unravel_index(int(np.argmax(values)), values.shape)
            found = (slab.start + int(index[0]), *(int(i) for i in index[1:]))
    return found if best > lowest else tuple(s // 2 for s in heat.shape)


def _mask_centre(mask: np.ndarray) -> tuple[int, ...] | None:
    """Rounded mean index of the mask's voxels (value > 0.5), or None when it has none; one slab at a time."""
    count, sums = 0, [0] * mask.ndim
    for slab in _slabs(mask):
        index = np.nonzero(_unit(mask[slab]) > 0.5)
        count += index[0].size
        sums = [total + int(i.sum()) for total, i in zip(sums, index, strict=True)]
        sums[0] += slab.start * index[0].size
    return None if count == 0 else tuple(round(total / count) for total in sums)


def _views(shape: tuple[int, int, int], spacing: Sequence[float], centre: tuple[int, ...]) -> list[_View]:
    """The axial, coronal and sagittal planes through ``centre`` of a ``(D, H, W)`` grid of ``(sd, sh, sw)`` voxels."""
    (depth, height, width), (sd, sh, sw), (d, h, w) = shape, spacing, centre
    every = slice(None)
    return [
        _View(f"axial (d={d})", (d, every, every), height * sh, width * sw, sh / sw, "upper", (h, w)),
        _View(f"coronal (h={h})", (every, h, every), depth * sd, width * sw, sd / sw, "lower", (d, w)),
        _View(f"sagittal (w={w})", (every, every, w), depth * sd, height * sh, sd / sh, "lower", (d, h)),
    ]


def _triplanar_figure(
    volume: Any,
    heatmap: Any,
    mask: Any,
    title: str | None,
    spacing: Sequence[float] | None,
    cmap: str,
    dpi: int,
    quantity: str,
) -> Figure:
    """The figure :func:`volume_triplanar_png` saves (same arguments); only the three drawn planes are converted."""
    vol = np.asarray(volume)
    if vol.ndim != 4:
        raise ShapeError(f"volume must be (C, D, H, W); got shape {vol.shape}")
    shape = (int(vol.shape[1]), int(vol.shape[2]), int(vol.shape[3]))
    heat = _matching(heatmap, shape, "volume's (D, H, W)")
    truth = None if mask is None else _matching(mask, shape, "volume's (D, H, W)")
    if spacing is not None and len(spacing) != 3:
        raise ShapeError(f"spacing must be (sd, sh, sw); got {tuple(spacing)}")
    steps = (1.0, 1.0, 1.0) if spacing is None else tuple(float(s) for s in spacing)
    if not all(math.isfinite(s) and s > 0 for s in steps):
        raise ConfigError(f"spacing must be 3 positive voxel sizes (sd, sh, sw); got {tuple(spacing or ())}")
    grey = vol[0]
    limits = _display_range(grey)  # from a bounded subsample: a 512³ volume is never converted whole
    centre = None if truth is None else _mask_centre(truth)  # cut through the defect, to see if the heatmap sits on it
    views = _views(shape, steps, centre or _focus(heat))
    fig, axes, cax = _figure.make_figure([v.phys_width / v.phys_height for v in views], title, dpi=dpi)
    for ax, view in zip(axes, views, strict=True):
        where, aspect, origin = view.where, view.pixel_aspect, view.origin
        plane = _scaled(grey[where], limits)
        ax.imshow(plane, cmap="gray", vmin=0, vmax=1, aspect=aspect, origin=origin, interpolation="nearest")
        _overlay(ax, _unit(heat[where]), cmap, aspect=aspect, origin=origin)
        outline = None if truth is None else _unit(truth[where]) > 0.5
        if outline is not None and outline.any() and not outline.all():
            ax.contour(outline.astype(float), levels=[0.5], colors="lime", linewidths=1.2)
        ax.axhline(view.cross[0], color="white", lw=0.6, ls="--", alpha=0.7)
        ax.axvline(view.cross[1], color="white", lw=0.6, ls="--", alpha=0.7)
        _figure.image_axes(ax, view.name)
    label = f"{quantity} (normalised)" + (" — green: ground truth" if truth is not None else "")
    _figure.add_colorbar(fig, cax, cmap, label)
    return fig


def volume_triplanar_png(
    volume: Any,
    heatmap: Any,
    path: str | Path,
    mask: Any = None,
    title: str | None = None,
    *,
    spacing: Sequence[float] | None = None,
    cmap: str = "jet",
    dpi: int = 100,
    quantity: str = "anomaly",
) -> Path:
    """Write axial, coronal and sagittal slices with the heatmap overlaid.

    The planes cut through the centre of the ground-truth mask when one is given, else through the heatmap's
    maximum.

    Axial shows ``volume[:, d]`` (H rows, W columns); coronal ``volume[:, :, h]`` and sagittal
    ``volume[:, :, :, w]`` show D upwards. Dashed lines mark where the other two planes cut. A flat heatmap is
    sliced through the centre.

    Memory stays small for large volumes (a 512³ CT): only the three drawn planes are converted to float, the
    display percentiles come from a strided subsample of at most ``SAMPLE_VOXELS`` voxels (all voxels of a smaller
    volume), and the heatmap's maximum and the mask's centre are found one slab at a time. A memory-mapped volume
    is read only where it is sampled and sliced.

    Args:
        volume: ``(C, D, H, W)`` (channel 0 is shown, stretched between its 1st and 99th percentile).
        heatmap: ``(D, H, W)`` in ``[0, 1]``.
        path: Output ``.png`` file.
        mask: Optional ground-truth anomaly mask ``(D, H, W)``; its outline is drawn in green.
        title: Figure title.
        spacing: Voxel size ``(sd, sh, sw)`` so anisotropic CT is shown undistorted; isotropic if None.
        cmap: Colour map of the heatmap.
        dpi: Pixels per inch; the PNG is ``5.4 * dpi`` pixels tall.
        quantity: What the heatmap shows, for the colour bar (``"anomaly"``, ``"attribution"``).

    Returns:
        The path written.

    Raises:
        ShapeError: wrong layout, or heatmap/mask shape differs from the volume's ``(D, H, W)``.
        ConfigError: a voxel size is not a positive number.
    """
    fig = _triplanar_figure(volume, heatmap, mask, title, spacing, cmap, dpi, quantity)
    return _figure.save_png(fig, path)


def _rgb_bands(bands: int, wavelengths: Sequence[float] | None) -> tuple[list[int], str]:
    """Band indices for R, G, B and a caption saying how they were chosen."""
    if wavelengths is not None:
        wl = np.asarray(wavelengths, dtype=np.float64)
        if wl.shape != (bands,):
            raise ShapeError(f"wavelengths must list one value per band ({bands}); got {wl.shape[0]} values")
        picks = [int(np.argmin(np.abs(wl - target))) for target in RGB_WAVELENGTHS]
        return picks, "R/G/B = " + "/".join(f"{wl[i]:.0f}" for i in picks) + " nm"
    picks = [round((bands - 1) * f) for f in (5 / 6, 1 / 2, 1 / 6)]
    return picks, "R/G/B = bands " + "/".join(str(i) for i in picks)


def cube_false_colour_png(
    cube: Any,
    heatmap: Any,
    path: str | Path,
    wavelengths: Sequence[float] | None = None,
    title: str | None = None,
    *,
    cmap: str = "jet",
    dpi: int = 100,
    quantity: str = "anomaly",
    band_importance: Sequence[float] | None = None,
) -> Path:
    """Write a false-colour view of a hyperspectral cube, the heatmap over it, and the mean spectra.

    Three bands make the RGB image: those nearest 650/550/450 nm when ``wavelengths`` are known, otherwise
    bands spread over the cube (at 5/6, 1/2 and 1/6 of the band range, long to short). Each channel is
    stretched between its 1st and 99th percentile. The third panel plots the mean spectrum of all pixels and
    of the hot pixels (heatmap ≥ 0.5, or the hottest 5% when none reach it).

    Args:
        cube: ``(bands, H, W)``.
        heatmap: ``(H, W)`` in ``[0, 1]``.
        path: Output ``.png`` file.
        wavelengths: Band centres in nm, one per band.
        title: Figure title.
        cmap: Colour map of the heatmap.
        dpi: Pixels per inch; the PNG is ``5.4 * dpi`` pixels tall.
        quantity: What the heatmap shows, for titles and the colour bar (``"anomaly"``, ``"attribution"``).
        band_importance: One value per band (e.g. the attribution share of each band); when given, the third
            panel plots it instead of the mean spectra.

    Returns:
        The path written.

    Raises:
        ShapeError: ``cube`` is not ``(bands, H, W)``, or the heatmap, wavelengths or band importance do not
            match it.
    """
    data = np.asarray(cube, dtype=np.float64)
    if data.ndim != 3:
        raise ShapeError(f"cube must be (bands, H, W); got shape {data.shape}")
    heat = _heat(heatmap, data.shape[1:], "cube's (H, W)")
    picks, caption = _rgb_bands(data.shape[0], wavelengths)
    rgb = np.stack([_stretch(data[i]) for i in picks], axis=-1)
    aspect = data.shape[2] / data.shape[1]
    fig, (ax_rgb, ax_ov, ax_spec), cax = _figure.make_figure([aspect, aspect], title, plots=1, dpi=dpi)
    for ax in (ax_rgb, ax_ov):
        ax.imshow(rgb, interpolation="nearest")
    _overlay(ax_ov, heat, cmap)
    _figure.image_axes(ax_rgb, f"false colour ({caption})")
    _figure.image_axes(ax_ov, f"{quantity} heatmap (max {heat.max():.2f})")
    x = np.asarray(wavelengths, dtype=np.float64) if wavelengths is not None else np.arange(data.shape[0])
    if band_importance is not None:
        importance = np.asarray(band_importance, dtype=np.float64)
        if importance.shape != (data.shape[0],):
            raise ShapeError(f"band_importance must hold one value per band ({data.shape[0]}); "
                             f"got shape {importance.shape}")
        ax_spec.plot(x, importance, color="crimson", lw=1.5)
        ax_spec.fill_between(x, importance, color="crimson", alpha=0.2)
        ax_spec.set_xlabel("wavelength (nm)" if wavelengths is not None else "band")
        ax_spec.set_ylabel("share of attribution")
        ax_spec.set_title("band importance", fontsize=10)
        ax_spec.grid(alpha=0.3)
        _figure.add_colorbar(fig, cax, cmap, f"{quantity} (normalised)")
        return _figure.save_png(fig, path)

    hot = heat >= 0.5
    if not hot.any():
        hot = heat >= np.quantile(heat, 0.95)
    ax_spec.plot(x, data.reshape(data.shape[0], -1).mean(axis=1), color="0.3", lw=1.5, label="all pixels")
    ax_spec.plot(x, data[:, hot].mean(axis=1), color="crimson", lw=1.5, label=f"hot pixels ({int(hot.sum())})")
    ax_spec.set_xlabel("wavelength (nm)" if wavelengths is not None else "band")
    ax_spec.set_ylabel("mean value")
    ax_spec.set_title("mean spectrum", fontsize=10)
    ax_spec.legend(fontsize=8, loc="best")
    ax_spec.grid(alpha=0.3)
    _figure.add_colorbar(fig, cax, cmap)
    return _figure.save_png(fig, path)
