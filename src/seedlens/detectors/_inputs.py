"""Turn what users pass to fit/score/explain into lists of channel-first arrays."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from seedlens.errors import ShapeError
from seedlens.types import Modality


def as_array_list(x: Any, spatial_dims: int | None = None) -> list[np.ndarray]:
    """Return ``x`` as a list of per-sample arrays ``(C, *spatial)``.

    ``x`` is a batch array/tensor ``(N, C, *spatial)`` or a sequence of ``(C, *spatial)`` arrays.
    """
    if hasattr(x, "detach"):  # torch tensor
        x = x.detach().cpu().numpy()
    if isinstance(x, np.ndarray):
        if spatial_dims is not None and x.ndim != spatial_dims + 2:
            layout = "(N, C, D, H, W)" if spatial_dims == 3 else "(N, C, H, W)"
            raise ShapeError(f"expected a batch {layout}; got an array of shape {tuple(x.shape)}")
        if x.ndim < 3:
            raise ShapeError(f"expected a batch (N, C, *spatial); got an array of shape {tuple(x.shape)}")
        return list(x)
    if isinstance(x, Sequence) and not isinstance(x, (str, bytes)):
        arrays = [np.asarray(a.detach().cpu().numpy() if hasattr(a, "detach") else a) for a in x]
        for i, a in enumerate(arrays):
            if spatial_dims is not None and a.ndim != spatial_dims + 1:
                layout = "(C, D, H, W)" if spatial_dims == 3 else "(C, H, W)"
                raise ShapeError(f"sample {i} must be {layout}; got shape {tuple(a.shape)}")
        return arrays
    raise TypeError(f"expected an array (N, C, *spatial) or a sequence of arrays; got {type(x).__name__}")


def infer_modality(array: np.ndarray) -> Modality:
    """Guess the modality of one channel-first sample: 4 axes → volume, else image (cubes must be declared)."""
    if array.ndim == 4:
        return Modality.VOLUME
    if array.ndim == 3:
        return Modality.IMAGE
    raise ShapeError(f"a sample must be (C, H, W) or (C, D, H, W); got shape {tuple(array.shape)}")


def stack_or_list(maps: list[np.ndarray]) -> np.ndarray | list[np.ndarray]:
    """Stack equally shaped per-sample maps into ``(N, ...)``; keep a list when shapes differ."""
    if maps and all(m.shape == maps[0].shape for m in maps):
        return np.stack(maps)
    return maps


def even_counts(sizes: Sequence[int], total: int) -> np.ndarray:
    """How many items to draw from each of several pools of ``sizes`` so that ``min(total, sum(sizes))`` are
    drawn as evenly as possible: a pool smaller than its share gives all it has, the others make up the rest.
    """
    sizes_array = np.asarray(sizes, dtype=np.int64)
    counts = np.zeros_like(sizes_array)
    left = min(int(total), int(sizes_array.sum()))
    while left > 0:
        open_pools = np.flatnonzero(counts < sizes_array)
        share = max(1, left // len(open_pools))
        for pool in open_pools:
            take = min(share, int(sizes_array[pool] - counts[pool]), left)
            counts[pool] += take
            left -= take
            if left == 0:
                break
    return counts


def read_npz(path: Any, keys: Sequence[str], what: str) -> dict[str, np.ndarray]:
    """The arrays ``keys`` of a saved ``.npz`` file; a missing, truncated or corrupt file raises ``ReadError``
    naming the file and ``what`` it should hold."""
    import zipfile

    from seedlens.errors import ReadError

    try:
        with np.load(path) as content:
            return {key: np.asarray(content[key]) for key in keys}
    except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile) as error:
        raise ReadError(path, f"unreadable {what}: {error}") from error
