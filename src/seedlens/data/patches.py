"""Training samples preprocessed once into a folder, and random patches drawn from them inside the object.

:class:`PreprocessedCache` reads each training sample once, puts it on the detector's grid (spacing, size:
:meth:`Preprocessor.prepare <seedlens.data.transforms.Preprocessor.prepare>`) and writes it as ``.npy`` with its
object mask and (if any) its anomaly mask; the per-sample intensity map is kept beside it. Training then reads
patches from memory maps of these files: only the patch is read, never the data set, nor even the whole scan.

:class:`PatchDataset` draws one patch per item. Its centre lies inside the object (the given object mask, or an
automatic foreground: background air is not a patch), and a patch of a normal sample never touches a voxel of its
anomaly mask, so a one-class detector can train on the healthy tissue of scans that also hold lesions. Which patch
an item gets depends only on ``(seed, epoch, draw)``: a resumed run, and a run with any number of DataLoader
workers or processes, draws the same patches. The training loop repeats a small data set within an epoch by
asking for more draws (``item(index, draw)``).
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy import ndimage
from torch.utils.data import Dataset

from seedlens.config import atomic_write_bytes
from seedlens.data.samples import SampleSet
from seedlens.data.transforms.geometry import mask_on_grid, pad_end
from seedlens.data.transforms.intensity import IntensityMap
from seedlens.data.transforms.preprocessor import Preprocessor
from seedlens.errors import ConfigError, DataSourceError, ReadError, ShapeError

__all__ = ["CachedSample", "PatchDataset", "PreprocessedCache"]

log = logging.getLogger(__name__)

INDEX_FILE = "index.json"
#: Most candidate patch positions kept per sample: the grid of positions is thinned to stay below it, and each draw
#: jitters its grid position within the grid step (kept only if it still obeys the rules), so every position can
#: be drawn while the candidates of a large data set stay small.
MAX_CANDIDATES = 4096


@dataclass(frozen=True)
class CachedSample:
    """One preprocessed training sample in a :class:`PreprocessedCache`.

    Attributes:
        name: The sample's file (or array index), for messages.
        label: 0 normal / 1 anomalous.
        shape: Spatial shape on the detector's grid.
        intensity: The sample's intensity map, as ``IntensityMap`` fields.
        minimum: The sample's smallest value before the intensity map (what padding uses).
        has_mask: Whether an anomaly mask was cached.
        maximum: The sample's largest value before the intensity map.
    """

    name: str
    label: int
    shape: tuple[int, ...]
    intensity: dict[str, list[float]]
    minimum: float
    has_mask: bool
    maximum: float = float("nan")

    @property
    def intensity_map(self) -> IntensityMap:
        """The stored intensity map."""
        return IntensityMap(**{k: tuple(v) for k, v in self.intensity.items()})


class PreprocessedCache:
    """A folder of preprocessed training samples (``.npy`` memory maps) written by :meth:`build`.

    Args:
        folder: A folder written by :meth:`build`.

    Raises:
        ReadError: the folder has no readable index.
    """

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        try:
            index = json.loads((self.folder / INDEX_FILE).read_text())
        except (OSError, ValueError) as error:
            raise ReadError(self.folder / INDEX_FILE, f"not a preprocessed-sample cache: {error}") from error
        self._index = index
        self.entries = [CachedSample(**{**e, "shape": tuple(e["shape"])}) for e in index["samples"]]

    @classmethod
    def build(
        cls,
        samples: SampleSet,
        preprocessor: Preprocessor,
        folder: str | Path,
        *,
        seed: int = 0,
        progress: Callable[[int, int], None] | None = None,
    ) -> PreprocessedCache:
        """Fit ``preprocessor`` and preprocess every sample of ``samples`` into ``folder``, in one pass.

        One sample is in memory at a time: it is read, put on the detector's grid, added to the intensity fit and
        written; the per-sample intensity maps are computed once the fit is complete.

        Args:
            samples: The training samples.
            preprocessor: The preprocessor to fit (its grid and intensity rule); fitted in place.
            folder: Where the ``.npy`` files and the index go (created; files of an earlier build are replaced).
            seed: Seed of the foreground voxels the intensity fit draws.
            progress: Called with ``(done, total)`` after each sample.
        """
        out = Path(folder)
        out.mkdir(parents=True, exist_ok=True)
        fitter = preprocessor.fitter(seed)
        pending: list[tuple[dict[str, Any], int, tuple[float, float] | None]] = []
        for i in range(len(samples)):
            sample = samples.load(i)
            try:
                x, geometry = preprocessor.resample(sample.array, sample.meta.voxel_size)
            except (ShapeError, ConfigError) as error:  # name the scan: it is one of many
                raise type(error)(f"{samples.name(i)}: {error}") from error
            objects = preprocessor.foreground(x, sample.object_mask, geometry)
            fitter.add(x, objects)
            stats = preprocessor.sample_stats(x)
            minimum, maximum = float(x.min()), float(x.max())
            x = preprocessor.pad(x, geometry)
            _check_space(out, 5 * x.nbytes // 4, samples.name(i))
            np.save(out / f"{i:06d}_x.npy", np.ascontiguousarray(x, dtype=np.float32))
            np.save(out / f"{i:06d}_object.npy", pad_end(objects[None].astype(np.uint8), geometry.output_shape, 0)[0])
            if sample.mask is not None:
                anomaly = mask_on_grid(sample.mask, geometry, any_coverage=True)
                np.save(out / f"{i:06d}_mask.npy", anomaly.astype(np.uint8))
            pending.append(({
                "name": samples.name(i), "label": samples.label(i), "shape": [int(n) for n in x.shape[1:]],
                "minimum": minimum, "maximum": maximum, "has_mask": sample.mask is not None,
            }, int(x.shape[0]), stats))
            del sample, x
            if progress is not None:
                progress(i + 1, len(samples))
        fitter.finish()
        entries = [{**entry, "intensity": {k: list(v) for k, v in asdict(
            preprocessor.intensity_map(channels, stats)).items()}} for entry, channels, stats in pending]
        payload = {"preprocessor": preprocessor.to_dict(), "samples": entries}
        atomic_write_bytes(out / INDEX_FILE, json.dumps(payload).encode())
        return cls(out)

    @property
    def preprocessor(self) -> Preprocessor:
        """The preprocessor fitted while the cache was built."""
        return Preprocessor.from_dict(self._index["preprocessor"])

    def __len__(self) -> int:
        return len(self.entries)

    def value_range(self, labels: tuple[int, ...] = (0,)) -> tuple[float, float]:
        """Smallest and largest value of the samples with these labels (normals by default), before intensity maps.

        The raw range the data came in, on the detector's grid; all samples when none has these labels.
        """
        chosen = [e for e in self.entries if e.label in labels] or self.entries
        return min(e.minimum for e in chosen), max(e.maximum for e in chosen)

    def array(self, index: int) -> np.ndarray:
        """Sample ``index`` on the detector's grid, before its intensity map: a read-only memory map."""
        return np.load(self.folder / f"{index:06d}_x.npy", mmap_mode="r")

    def objects(self, index: int) -> np.ndarray:
        """The object mask of sample ``index`` (uint8 memory map)."""
        return np.load(self.folder / f"{index:06d}_object.npy", mmap_mode="r")

    def mask(self, index: int) -> np.ndarray | None:
        """The anomaly mask of sample ``index`` (uint8 memory map), or None."""
        if not self.entries[index].has_mask:
            return None
        return np.load(self.folder / f"{index:06d}_mask.npy", mmap_mode="r")


class PatchDataset(Dataset[dict[str, Any]]):
    """Random patches of the samples of a :class:`PreprocessedCache`, one per item.

    Each item is ``{"x": (C, *patch_size) float32, "label": float, "mask": (1, *patch_size) float32}``. A sample
    smaller than the patch along an axis is padded at its end with its own minimum (as whole samples are). When
    every sample is exactly one patch (whole-sample training) the patch is the sample.

    Patch centres: for a normal sample, a voxel of the object whose patch holds no voxel of the sample's anomaly
    mask (when ``avoid_masks``); for an anomalous sample, a voxel of its anomaly mask (else of the object). A normal
    sample without such a centre is left out (a warning names it).

    Args:
        cache: The preprocessed samples.
        patch_size: Spatial patch size, one value per axis.
        seed: Seed of the draws.
        avoid_masks: Keep the patches of normal samples off their anomaly masks.

    Raises:
        DataSourceError: no sample has a valid patch position.
        ShapeError: ``patch_size`` does not fit the samples' dimensionality.
    """

    def __init__(self, cache: PreprocessedCache, patch_size: Sequence[int], seed: int = 0,
                 avoid_masks: bool = True) -> None:
        self.cache = cache
        self.patch_size = tuple(int(p) for p in patch_size)
        self.seed = int(seed)
        self.epoch = 0
        self.avoid_masks = avoid_masks
        self.samples: list[int] = []
        self.candidates: list[np.ndarray] = []
        self.jitter: list[tuple[int, str]] = []  # per sample: grid step and the rule a jittered corner must obey
        for i, entry in enumerate(cache.entries):
            if len(entry.shape) != len(self.patch_size):
                raise ShapeError(f"patch size {self.patch_size} does not fit sample {entry.name} of shape "
                                 f"{entry.shape}")
            corners, step, rule = self._corners(i)
            if corners.shape[0] == 0:
                log.warning("%s: no patch of %s lies inside the object and off its anomaly mask; left out",
                            entry.name, self.patch_size)
                continue
            self.samples.append(i)
            self.candidates.append(corners)
            self.jitter.append((step, rule))
        if not self.samples:
            raise DataSourceError(f"no training sample has a patch of {self.patch_size} inside its object and off "
                                  "its anomaly mask")
        #: Whether every sample is exactly one patch (whole-sample training).
        self.whole_samples = all(cache.entries[i].shape == self.patch_size for i in self.samples)

    def _corners(self, index: int) -> tuple[np.ndarray, int, str]:
        """Candidate patch corners ``(K, dims)`` of sample ``index`` (see the class docstring), with the grid step.

        The third value is the rule a jittered corner must obey: ``object`` (centre in the object), ``clear`` (also
        off the anomaly mask) or ``none`` (no jitter).
        """
        entry = self.cache.entries[index]
        patch = self.patch_size
        shape = entry.shape
        padded = tuple(max(s, p) for s, p in zip(shape, patch, strict=True))
        if padded == patch:
            return np.zeros((1, len(patch)), dtype=np.int64), 1, "none"
        ranges = [p_ - p for p_, p in zip(padded, patch, strict=True)]  # corners 0..range per axis
        step = 1
        while int(np.prod([r // step + 1 for r in ranges])) > MAX_CANDIDATES:
            step += 1
        axes = [np.unique(np.r_[np.arange(0, r + 1, step), r]) for r in ranges]  # the far end included
        grids = np.meshgrid(*axes, indexing="ij")
        corners = np.stack([g.reshape(-1) for g in grids], axis=1)
        centres = corners + np.asarray([p // 2 for p in patch])
        objects = _padded_to(self.cache.objects(index), padded)
        mask = self.cache.mask(index)
        centre_index = tuple(centres.T)
        if entry.label and mask is not None and bool(np.any(mask)):  # a labelled anomaly: patches centred on it
            voxels = np.argwhere(np.asarray(mask) > 0)  # every anomalous voxel, however small the anomaly
            if len(voxels) > MAX_CANDIDATES:
                voxels = voxels[:: -(-len(voxels) // MAX_CANDIDATES)]
            on_anomaly = np.clip(voxels - np.asarray([p // 2 for p in patch]), 0, np.asarray(ranges))
            return np.unique(on_anomaly, axis=0), 1, "none"
        keep = objects[centre_index] > 0
        if self.avoid_masks and mask is not None and bool(np.any(mask)):
            near = ndimage.maximum_filter(_padded_to(mask, padded), size=patch, mode="constant", cval=0)
            clear = near[centre_index] == 0
            if bool((keep & clear).any()):
                return corners[keep & clear], step, "clear"
            return corners[clear], 1, "none"
        if not keep.any():
            return corners, 1, "none"
        return corners[keep], step, "object"

    def _obeys(self, sample: int, corner: np.ndarray, rule: str) -> bool:
        """Whether a (jittered) corner of ``sample`` still obeys ``rule`` (see :meth:`_corners`)."""
        shape = self.cache.entries[sample].shape
        centre = tuple(int(c) + p // 2 for c, p in zip(corner, self.patch_size, strict=True))
        if any(c >= s for c, s in zip(centre, shape, strict=True)) or not self.cache.objects(sample)[centre]:
            return False
        if rule == "clear":
            mask = self.cache.mask(sample)
            region = tuple(slice(int(c), int(c) + p) for c, p in zip(corner, self.patch_size, strict=True))
            return mask is None or not bool(np.any(mask[region]))
        return True

    def set_epoch(self, epoch: int) -> None:
        """Draw the patches of ``epoch`` (the training loop calls this before each epoch)."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self.item(index, index)

    def stacked_nbytes(self) -> int | None:
        """Bytes of :meth:`stacked`, or None when the items are random draws (patches) that cannot be stacked."""
        if not self.whole_samples:
            return None
        channels = int(self.cache.array(self.samples[0]).shape[0])
        per_item = (channels + 1) * int(np.prod(self.patch_size)) * 4 + 4
        return per_item * len(self.samples)

    def stacked(self) -> dict[str, torch.Tensor] | None:
        """Every item stacked, ``{"x": (N, C, *patch), "label": (N,), "mask": (N, 1, *patch)}``, or None.

        Only for whole-sample training, where an item is the same at every draw; the training loop then holds
        the set on its device (``TrainConfig.hold_data``).
        """
        if not self.whole_samples:
            return None
        items = [self.item(i, i) for i in range(len(self))]
        return {key: torch.stack([item[key] for item in items]) for key in ("x", "label", "mask")}

    def corner(self, index: int, draw: int) -> tuple[int, tuple[int, ...]]:
        """``(sample, corner)``: the cached sample and the patch corner item ``index`` gets at its ``draw``-th draw."""
        position = index % len(self.samples)
        candidates = self.candidates[position]
        sample = self.samples[position]
        rng = np.random.default_rng([self.seed, self.epoch, draw])
        corner = candidates[int(rng.integers(len(candidates)))] if len(candidates) > 1 else candidates[0]
        step, rule = self.jitter[position]
        if step > 1 and rule != "none":
            shape = self.cache.entries[sample].shape
            ranges = np.asarray([max(s, p) - p for s, p in zip(shape, self.patch_size, strict=True)])
            moved = np.clip(corner + rng.integers(-(step // 2), step - step // 2, size=len(ranges)), 0, ranges)
            if self._obeys(sample, moved, rule):
                corner = moved
        return sample, tuple(int(c) for c in corner)

    def item(self, index: int, draw: int) -> dict[str, Any]:
        """The patch of item ``index`` (sample ``index % samples``) for the ``draw``-th draw of the epoch."""
        sample, corner = self.corner(index, draw)
        entry = self.cache.entries[sample]
        region = tuple(slice(int(c), int(c) + p) for c, p in zip(corner, self.patch_size, strict=True))
        x = np.array(self.cache.array(sample)[(slice(None), *region)], dtype=np.float32)
        x = pad_end(x, self.patch_size, entry.minimum)  # before the intensity map, as Preprocessor.pad does
        x = entry.intensity_map(x, out=x)
        stored = self.cache.mask(sample)
        if entry.label:
            mask = (np.ones((1, *self.patch_size), np.float32) if stored is None
                    else pad_end(np.array(stored[region], np.float32)[None], self.patch_size, 0.0))
        elif stored is not None and self.whole_samples:  # the whole sample holds its mask: it stays a map target
            mask = pad_end(np.array(stored[region], np.float32)[None], self.patch_size, 0.0)
        else:
            mask = np.zeros((1, *self.patch_size), np.float32)
        return {"x": torch.from_numpy(x), "label": torch.tensor(float(entry.label)), "mask": torch.from_numpy(mask)}


def _check_space(folder: Path, needed: int, name: str) -> None:
    """Refuse to write ``needed`` bytes for sample ``name`` where the disk has not that much free."""
    free = shutil.disk_usage(folder).free
    if free < needed:
        raise DataSourceError(f"{folder}: {_size(free)} free, but preprocessing {name} needs {_size(needed)} (the "
                              "training scans are written there as float32 while the detector trains; give run_dir "
                              "on a larger disk)")


def _size(n: int) -> str:
    return f"{n / 2**30:.1f} GB" if n >= 2**30 else f"{n / 2**20:.1f} MB"


def _padded_to(array: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """``array`` ``(*spatial)`` padded at its end with 0 to ``shape``."""
    return pad_end(np.asarray(array)[None], shape, 0)[0]
