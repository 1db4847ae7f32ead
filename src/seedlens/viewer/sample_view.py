"""One sample as a viewer shows it: its scan, its heatmap levels per normalisation and its ground truth."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from threading import Lock
from typing import Any

import numpy as np

from seedlens.errors import ConfigError
from seedlens.viewer import layers

#: The heatmap normalisations a page may ask for: each map by its own range, or by the normal validation maps.
NORMALIZATIONS = ("local", "global")


@dataclass
class SampleView:
    """A sample's layers, cut one plane at a time.

    Attributes:
        array: The scan ``(C, H, W)`` (image, cube) or ``(C, D, H, W)`` (volume), possibly memory-mapped.
        kind: ``image``, ``volume`` or ``cube``.
        spacing: Voxel size per spatial axis (mm), or None when unknown.
        wavelengths: A cube's band centres (nm), or None.
        heat: Heatmap levels (:func:`seedlens.viewer.layers.quantize`) ``(1, *spatial)`` per normalisation.
        mask: Ground-truth anomaly mask ``(1, *spatial)``, or None.
    """

    array: Any
    kind: str
    spacing: Sequence[float] | None = None
    wavelengths: Sequence[float] | None = None
    heat: dict[str, np.ndarray] = field(default_factory=dict)
    mask: np.ndarray | None = None
    limits: list[tuple[float, float] | None] = field(init=False)

    def __post_init__(self) -> None:
        self.limits = layers.display_limits(self.array)

    @property
    def nbytes(self) -> int:
        """Bytes this view holds in memory (a memory-mapped scan counts as it would once read)."""
        held = [np.asarray(self.array).nbytes, *(h.nbytes for h in self.heat.values())]
        return int(sum(held) + (self.mask.nbytes if self.mask is not None else 0))

    def describe(self) -> dict[str, Any]:
        """What a page needs to lay the sample out: shape, planes per axis, spacing, bands, layers present."""
        shape = [int(n) for n in np.shape(self.array)]
        spatial = shape[1:]
        about: dict[str, Any] = {
            "kind": self.kind, "shape": shape, "spatial": spatial,
            "spacing": [float(s) for s in self.spacing] if self.spacing is not None else None,
            "planes": spatial if len(spatial) == 3 else [1],
            "heatmaps": sorted(self.heat), "has_mask": self.mask is not None and bool(np.any(self.mask)),
        }
        if self.kind == "cube":
            from seedlens.explain.render import _rgb_bands

            wavelengths = list(self.wavelengths) if self.wavelengths is not None else None
            about.update(bands=shape[0], wavelengths=wavelengths,
                         false_colour=_rgb_bands(shape[0], wavelengths if wavelengths and len(wavelengths) == shape[0]
                                                 else None)[0])
        return about

    def scan_png(self, axis: int | None, index: int, band: int | None = None) -> bytes:
        """The scan layer of one plane; a cube shows ``band`` in grey, or its false colour when None."""
        values = layers.plane(self.array, axis, index)
        false_colour = self.describe()["false_colour"] if self.kind == "cube" and band is None else None
        return layers.scan_png(values, self.limits, band=band, false_colour=false_colour)

    def heat_png(self, axis: int | None, index: int, normalize: str = "local") -> bytes:
        """The heatmap layer of one plane in the ``normalize`` scaling.

        Raises:
            ConfigError: an unknown normalisation, or one this sample has no heatmap for.
        """
        if normalize not in self.heat:
            have = ", ".join(sorted(self.heat)) or "none"
            raise ConfigError(f"normalize must be one of {have} for this sample; got {normalize!r}")
        return layers.heat_png(layers.plane(self.heat[normalize], axis, index)[0])

    def mask_png(self, axis: int | None, index: int) -> bytes:
        """The ground-truth contour of one plane (transparent where there is none)."""
        if self.mask is None:
            shape = layers.plane(self.array, axis, index).shape[1:]
            return layers.contour_png(np.zeros(shape, bool))
        return layers.contour_png(layers.plane(self.mask, axis, index)[0])

    def spectrum(self, y: int, x: int) -> dict[str, Any]:
        """A cube pixel's spectrum, the band axis (wavelengths or band numbers) and its heatmap levels.

        Raises:
            ConfigError: the sample is not a cube, or the pixel lies outside it.
        """
        if self.kind != "cube":
            raise ConfigError(f"a spectrum needs a hyperspectral cube; this sample is a {self.kind}")
        values = layers.spectrum(self.array, y, x)
        axis = list(self.wavelengths) if self.wavelengths is not None else list(range(len(values)))
        heat = {mode: int(levels[0, y, x]) / 255 for mode, levels in self.heat.items()}
        return {"y": y, "x": x, "values": values, "bands": axis,
                "unit": "nm" if self.wavelengths is not None else "band", "heat": heat}


class ViewCache:
    """The most recently opened sample views, up to ``max_bytes`` held (at least the last one), built once each.

    ``get(key, build)`` returns the cached view or builds it under a per-key lock, so the three planes a page
    asks for at once do not compute one heatmap three times.
    """

    def __init__(self, max_bytes: int = 2 * 2**30) -> None:
        self.max_bytes = max_bytes
        self._views: OrderedDict[Any, SampleView] = OrderedDict()
        self._lock = Lock()
        self._building: dict[Any, Lock] = {}

    def get(self, key: Any, build: Callable[[], SampleView]) -> SampleView:
        """The view of ``key``, from the cache or from ``build()``."""
        with self._lock:
            if key in self._views:
                self._views.move_to_end(key)
                return self._views[key]
            building = self._building.setdefault(key, Lock())
        with building:
            with self._lock:
                if key in self._views:
                    return self._views[key]
            view = build()
            with self._lock:
                self._views[key] = view
                self._building.pop(key, None)
                while len(self._views) > 1 and sum(v.nbytes for v in self._views.values()) > self.max_bytes:
                    self._views.popitem(last=False)
            return view


def heat_levels(raw: np.ndarray, normalizer: Callable[[np.ndarray, str], np.ndarray],
                modes: Sequence[str] = NORMALIZATIONS) -> dict[str, np.ndarray]:
    """Quantized heatmap levels ``(1, *spatial)`` of a raw map for each normalisation ``normalizer`` supports."""
    return {mode: layers.quantize(normalizer(raw, mode)) for mode in modes}
