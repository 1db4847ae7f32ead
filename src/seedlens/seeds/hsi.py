"""Hyperspectral trays: reflectance calibration, seed segmentation and tray positions.

* **Calibration**: ``reflectance = (raw − dark) / (white − dark)`` per band and pixel. White and dark references
  may be full frames ``(bands, H, W)``, a few lines of a push-broom sensor ``(bands, L, W)`` (averaged over their
  lines, so every line of the tray uses the same detector column's reference) or one spectrum per band
  ``(bands,)`` / ``(bands, 1, 1)``, such as the mean spectrum of a white or black tile imaged beside the seeds
  (:func:`reference_from_region`). Reflectance is clipped to ``[0, clip]``. A band is **bad** when its white
  minus dark is at most :data:`MIN_SIGNAL` counts (median over the frame: a dead or saturated detector row) or
  when the white reference is saturated in more than 1 % of its pixels; bad bands are reported and set to 0.
* **Segmentation**: an index image — the mean reflectance over the good bands (``index="brightness"``), one band
  (``index=850.0``: the band nearest 850 nm), or a normalised difference of two bands (``index=(800.0, 670.0)``:
  (R800 − R670) / (R800 + R670), NDVI-like) — thresholded with Otsu (seeds on the brighter side; ``dark_seeds``
  flips it; the two classes must differ by 4 within-class standard deviations, or the tray is empty), holes
  filled, components larger than 1.6 median seeds (touching seeds) split by a distance-transform watershed,
  specks below ``min_area`` pixels (default: a quarter of the median seed) removed.
* **Tray positions**: seed centroids are grouped into rows where consecutive ``y`` values jump by more than half
  the median seed size, and into columns the same way along ``x``, then numbered by the grid pitch (so an empty
  row or column inside the tray keeps its number); row and column are 1-based from the first occupied ones.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy import ndimage

from seedlens.errors import ConfigError, ShapeError
from seedlens.seeds.ct import NoGrainError

#: A band whose white minus dark reference is at most this many counts (median) carries no signal.
MIN_SIGNAL = 1.0
#: Seeds and tray must differ by this many within-class standard deviations (Otsu splits noise too).
MIN_CONTRAST = 4.0
#: A component larger than this many median seeds is taken for touching seeds and split by a watershed.
MERGED_AREA = 1.6
#: A band whose white reference is saturated in more than this share of its pixels is bad.
MAX_SATURATED = 0.01


class CalibrationError(ConfigError):
    """White and dark references that cannot calibrate a frame (wrong shape, dark above white)."""


@dataclass(frozen=True)
class Calibration:
    """A calibrated frame.

    Attributes:
        reflectance: ``(bands, H, W)`` float32 in ``[0, clip]`` (bad bands are 0).
        bad_bands: Indices of bands without usable signal, and why.
        clipped: Share of values that were clipped.
    """

    reflectance: np.ndarray
    bad_bands: dict[int, str] = field(default_factory=dict)
    clipped: float = 0.0


def _reference(reference: np.ndarray, shape: tuple[int, ...], name: str, what: str) -> np.ndarray:
    ref = np.asarray(reference, dtype=np.float64)
    bands, _, width = shape
    if ref.ndim == 1:
        ref = ref[:, None, None]
    if ref.ndim != 3 or ref.shape[0] != bands:
        raise CalibrationError(f"{name}: the {what} reference has shape {ref.shape}; expected ({bands}, H, W), "
                               f"({bands}, lines, {width}) or ({bands},) to match the frame {shape}")
    if ref.shape[1:] == shape[1:]:
        return ref
    if ref.shape[2] in (1, width):
        return ref.mean(axis=1, keepdims=True)
    raise CalibrationError(f"{name}: the {what} reference has shape {ref.shape}; expected ({bands}, H, W), "
                           f"({bands}, lines, {width}) or ({bands},) to match the frame {shape}")


Region = tuple[tuple[int, int], tuple[int, int]]


def parse_region(text: str) -> Region:
    """``"y0:y1,x0:x1"`` (half-open pixel ranges) as ``((y0, y1), (x0, x1))``."""
    try:
        rows, cols = text.split(",")
        region = tuple(tuple(int(v) for v in part.split(":")) for part in (rows, cols))
    except ValueError as err:
        raise ConfigError(f"a reference region is 'y0:y1,x0:x1' (pixel ranges, e.g. 0:8,0:8); got {text!r}") from err
    if any(len(pair) != 2 for pair in region):
        raise ConfigError(f"a reference region is 'y0:y1,x0:x1' (pixel ranges, e.g. 0:8,0:8); got {text!r}")
    return region  # type: ignore[return-value]


def reference_from_region(frame: np.ndarray, region: Region, what: str, name: str = "raw") -> np.ndarray:
    """The ``(bands,)`` mean spectrum of a reference tile imaged in the frame itself (a white or a black tile)."""
    (y0, y1), (x0, x1) = region
    height, width = frame.shape[1:]
    if not (0 <= y0 < y1 <= height and 0 <= x0 < x1 <= width):
        raise CalibrationError(f"{name}: the {what} reference region rows {y0}:{y1}, columns {x0}:{x1} is not "
                               f"inside the frame of {height} × {width} pixels")
    return np.asarray(frame[:, y0:y1, x0:x1], dtype=np.float64).mean(axis=(1, 2))


def calibrate(
    raw: np.ndarray,
    white: np.ndarray,
    dark: np.ndarray,
    *,
    clip: float = 1.5,
    saturation: float | None = None,
    names: tuple[str, str, str] = ("raw", "white", "dark"),
) -> Calibration:
    """Turn raw counts into reflectance with white and dark references.

    Args:
        raw: ``(bands, H, W)`` counts.
        white: White reference (see the module docstring for the shapes accepted).
        dark: Dark reference, same rules.
        clip: Largest reflectance kept (specular highlights exceed 1).
        saturation: Count at which the sensor saturates (default: the maximum of the white's integer dtype;
            none for float references).
        names: File names of raw, white and dark, for error messages.

    Raises:
        CalibrationError: a reference's shape does not fit the frame, or the dark reference is brighter than
            the white one over most of the frame.
    """
    frame = np.asarray(raw)
    if frame.ndim != 3:
        raise ShapeError(f"{names[0]}: a frame must be (bands, H, W); got shape {frame.shape}")
    if saturation is None and np.issubdtype(np.asarray(white).dtype, np.integer):
        saturation = float(np.iinfo(np.asarray(white).dtype).max)
    white_ref = _reference(white, frame.shape, names[1], "white")
    dark_ref = _reference(dark, frame.shape, names[2], "dark")
    span = white_ref - dark_ref
    flat_span = np.broadcast_to(span, (frame.shape[0], *np.broadcast_shapes(span.shape[1:], frame.shape[1:])))
    inverted = float(np.mean(flat_span < 0))
    if inverted > 0.5:
        raise CalibrationError(f"{names[2]}: the dark reference is brighter than the white reference "
                               f"{names[1]} in {inverted:.0%} of the values; are they swapped?")
    bad: dict[int, str] = {}
    for band in range(frame.shape[0]):
        median = float(np.median(span[band]))
        if median <= MIN_SIGNAL:
            bad[band] = f"white - dark is {median:g} counts (no signal)"
        elif saturation is not None and float(np.mean(white_ref[band] >= saturation)) > MAX_SATURATED:
            bad[band] = "white reference saturated"
    with np.errstate(divide="ignore", invalid="ignore"):
        reflectance = (frame.astype(np.float64) - dark_ref) / span
    reflectance = np.where(np.isfinite(reflectance) & (span > 0), reflectance, 0.0)
    outside = float(np.mean((reflectance < 0) | (reflectance > clip)))
    reflectance = np.clip(reflectance, 0.0, clip).astype(np.float32)
    for band in bad:
        reflectance[band] = 0.0
    return Calibration(reflectance, bad, outside)


def index_image(reflectance: np.ndarray, wavelengths: Sequence[float] | None, index: object,
                bad_bands: Sequence[int] = ()) -> np.ndarray:
    """The ``(H, W)`` image the seeds are segmented on (see the module docstring)."""
    good = [b for b in range(reflectance.shape[0]) if b not in set(bad_bands)]
    if not good:
        raise CalibrationError("every band is bad: nothing to segment")

    def band(nm: float) -> np.ndarray:
        if wavelengths is None:
            raise ConfigError(f"index {index!r} names a wavelength, but the cube has no wavelengths")
        waves = np.asarray(wavelengths, dtype=np.float64)
        choice = min(good, key=lambda b: abs(waves[b] - nm))
        return reflectance[choice].astype(np.float64)

    if index == "brightness":
        return reflectance[good].mean(axis=0).astype(np.float64)
    if isinstance(index, (int, float)) and not isinstance(index, bool):
        return band(float(index))
    if isinstance(index, (tuple, list)) and len(index) == 2:
        a, b = band(float(index[0])), band(float(index[1]))
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = (a - b) / (a + b)
        return np.nan_to_num(ratio, nan=0.0, posinf=0.0, neginf=0.0)
    raise ConfigError(f"unknown index {index!r}; expected 'brightness', a wavelength in nm or a pair (nm, nm)")


def segment_seeds(image: np.ndarray, *, dark_seeds: bool = False, min_area: float | None = None,
                  seed_size: float | None = None) -> np.ndarray:
    """Label the seeds of an index image ``(H, W)``; see the module docstring.

    Raises:
        NoGrainError: nothing in the image is seed-like.
    """
    from skimage.filters import threshold_otsu
    from skimage.morphology import h_maxima
    from skimage.segmentation import watershed

    values = np.asarray(image, dtype=np.float64)
    if np.ptp(values) <= 1e-12:
        raise NoGrainError("the index image is constant: there is no seed on the tray")
    level = threshold_otsu(values)
    low, high = values[values <= level], values[values > level]
    spread = np.sqrt((low.var() * low.size + high.var() * high.size) / values.size)
    if high.mean() - low.mean() < MIN_CONTRAST * max(spread, 1e-12):
        raise NoGrainError(f"the index image has no contrast between seeds and tray (class means "
                           f"{low.mean():.4g} and {high.mean():.4g}, spread {spread:.3g}): there is no seed on the "
                           f"tray")
    mask = values < level if dark_seeds else values > level
    mask = ndimage.binary_fill_holes(ndimage.binary_opening(mask))
    components, count = ndimage.label(mask)
    if count == 0:
        raise NoGrainError("no pixel passes the seed threshold: there is no seed on the tray")
    areas = np.bincount(components.ravel())[1:]
    median_area = float(np.median(areas))
    labels = components.copy()
    next_label = count + 1
    for k in np.flatnonzero(areas > MERGED_AREA * median_area) + 1:  # seeds touching each other
        box = ndimage.find_objects(components == k)[0]
        region = components[box] == k
        distance = ndimage.distance_transform_edt(region)
        radius = (seed_size / 2.0) if seed_size else float(np.sqrt(median_area / np.pi))
        markers, found = ndimage.label(h_maxima(ndimage.gaussian_filter(distance, 0.7), max(0.5, 0.3 * radius))
                                       & region)
        if found < 2:
            continue
        parts = watershed(-distance, markers, mask=region)
        view = labels[box]
        for part in range(2, found + 1):
            view[parts == part] = next_label
            next_label += 1
    sizes = np.bincount(labels.ravel())[1:]
    present = sizes[sizes > 0]
    floor = min_area if min_area is not None else 0.25 * float(np.median(present)) if present.size else 0.0
    keep = np.zeros(len(sizes) + 1, bool)
    keep[1:] = sizes >= floor
    labels = np.where(keep[labels], labels, 0)
    if labels.max() == 0:
        raise NoGrainError(f"nothing on the tray is at least {floor:g} pixels: there is no seed")
    return _renumber(labels)


def _renumber(labels: np.ndarray) -> np.ndarray:
    """Seeds numbered 1..n in row-major order of their tray position."""
    ids = [k for k in np.unique(labels) if k]
    centres = ndimage.center_of_mass(labels > 0, labels, index=ids)
    positions = tray_positions(np.asarray(centres), _median_size(labels, ids))
    order = sorted(range(len(ids)), key=lambda i: (positions[i], centres[i][1]))
    lookup = np.zeros(int(labels.max()) + 1, np.int32)
    for new, i in enumerate(order, start=1):
        lookup[ids[i]] = new
    return lookup[labels]


def _median_size(labels: np.ndarray, ids: Sequence[int]) -> float:
    sizes = np.bincount(labels.ravel())[list(ids)]
    return float(2.0 * np.sqrt(np.median(sizes) / np.pi))


def _grid_index(values: np.ndarray, gap: float) -> np.ndarray:
    """1-based grid index of each coordinate.

    Groups split where sorted values jump by more than ``gap``; they are numbered by the grid pitch (the
    smallest step between neighbouring groups), so an empty row or column inside the tray keeps its number.
    """
    order = np.argsort(values)
    group = np.zeros(len(values), int)
    for previous, index in itertools.pairwise(order):
        group[index] = group[previous] + int(values[index] - values[previous] > gap)
    means = np.array([values[group == g].mean() for g in range(group.max() + 1)])
    steps = np.diff(means)
    if steps.size == 0:
        return group + 1
    pitch = float(steps.min())
    slots = np.round((means - means[0]) / pitch).astype(int)
    if np.any(np.diff(slots) < 1):  # an irregular layout: plain order is the honest numbering
        return group + 1
    return slots[group] + 1


def tray_positions(centres: np.ndarray, seed_size: float) -> list[tuple[int, int]]:
    """``(row, column)`` (1-based) of each ``(y, x)`` centre on a tray grid whose pitch exceeds the seed size.

    Rows and columns are counted from the first occupied one: an empty row or column inside the tray keeps its
    number, one at the tray's edge cannot be seen.
    """
    if len(centres) == 0:
        return []
    rows = _grid_index(centres[:, 0], seed_size / 2.0)
    cols = _grid_index(centres[:, 1], seed_size / 2.0)
    return [(int(r), int(c)) for r, c in zip(rows, cols, strict=True)]


@dataclass
class TraySeed:
    """One seed of a tray."""

    index: int
    sample_id: str
    row: int
    column: int
    bbox: list[list[int]]
    cube: np.ndarray  # (bands, h, w) calibrated reflectance crop
    mask: np.ndarray  # (h, w) bool
    mean_spectrum: np.ndarray  # (bands,)


def tray_seeds(reflectance: np.ndarray, labels: np.ndarray, tray_id: str, margin: int = 2) -> list[TraySeed]:
    """Crop every labelled seed of a calibrated tray."""
    ids = [int(k) for k in np.unique(labels) if k]
    centres = np.asarray(ndimage.center_of_mass(labels > 0, labels, index=ids))
    positions = tray_positions(centres, _median_size(labels, ids))
    boxes = ndimage.find_objects(labels)
    seeds = []
    for k, (row, column) in zip(ids, positions, strict=True):
        box = boxes[k - 1]
        assert box is not None
        bbox = [[max(0, s.start - margin), min(n, s.stop + margin)] for s, n in zip(box, labels.shape, strict=True)]
        window = tuple(slice(a, b) for a, b in bbox)
        mask = labels[window] == k
        cube = reflectance[(slice(None), *window)]
        seeds.append(TraySeed(k, f"{tray_id}-r{row:02d}c{column:02d}", row, column, bbox, np.array(cube), mask,
                              cube[:, mask].mean(axis=1)))
    return seeds


def read_frame(path: str | Path) -> tuple[np.ndarray, list[float] | None]:
    """Read a raw or reference frame as ``(bands, H, W)`` with its wavelengths."""
    from seedlens.io import read

    cube, meta = read(path, modality="cube")
    return cube, meta.wavelengths
