"""Deprecated Outlier Exposure samplers: use :class:`~seedlens.anomaly.OutlierSet` with `OutlierExposure`.

Both return ``(outlier, mask)`` with a mask of ones (the whole sample is anomalous), so they plug into
:class:`~seedlens.anomaly.OnlineReplacement` like confetti noise. :class:`ArrayOutliers` covers few- and one-shot
Outlier Exposure (a handful of images kept in memory).
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from seedlens.errors import ConfigError, CorruptFileError, DataSourceError, ShapeError

IMAGE_EXTENSIONS: tuple[str, ...] = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".npy")
VOLUME_EXTENSIONS: tuple[str, ...] = (".nii", ".nii.gz", ".npy")


def _resize(x: Tensor, spatial: tuple[int, ...]) -> Tensor:
    """Resize ``(C, *s)`` to ``(C, *spatial)`` with (bi/tri)linear interpolation, anti-aliased in 2D."""
    if tuple(x.shape[1:]) == spatial:
        return x
    mode = "bilinear" if len(spatial) == 2 else "trilinear"
    return F.interpolate(x[None], size=spatial, mode=mode, align_corners=False, antialias=len(spatial) == 2)[0]


def _match_channels(x: Tensor, channels: int, source: str) -> Tensor:
    """Repeat a single channel or average to one channel; other mismatches are errors."""
    if x.shape[0] == channels:
        return x
    if x.shape[0] == 1:
        return x.expand(channels, *x.shape[1:]).clone()
    if channels == 1:
        return x.mean(dim=0, keepdim=True)
    raise ShapeError(f"{source}: has {x.shape[0]} channels and cannot be turned into {channels}")


def _min_max(a: np.ndarray) -> np.ndarray:
    a = a.astype(np.float32)
    lo, hi = float(a.min()), float(a.max())
    return (a - lo) / (hi - lo) if hi > lo else np.zeros_like(a)


def _has_extension(path: Path, extensions: Sequence[str]) -> bool:
    name = path.name.lower()
    return any(name.endswith(ext) for ext in extensions)


class FolderOutliers:
    """Outlier Exposure from every image (or volume) file under a folder.

    Files are found recursively and read lazily when drawn (a cache keeps the decoded, resized tensors). 2D files
    (PNG, JPEG, BMP, TIFF via Pillow, or ``.npy`` ``(H, W)``/``(C, H, W)``) are converted to ``channels``
    (grey or RGB by Pillow; otherwise a single channel is repeated), resized to ``size`` and scaled to [0, 1]
    (8-bit / 255, 16-bit / 65535, anything else min-max). With ``spatial_dims=3`` NIfTI (``.nii``, ``.nii.gz``)
    and ``.npy`` ``(D, H, W)``/``(C, D, H, W)`` volumes are read, min-max scaled and resized.

    Args:
        root: Folder searched recursively.
        size: Output spatial size, an int for a square/cube or a tuple ``(H, W)`` / ``(D, H, W)``.
        channels: Output channel count.
        spatial_dims: 2 for images, 3 for volumes.
        cache: Keep decoded outliers in memory.

    Raises:
        ConfigError: On an invalid ``size``, ``channels`` or ``spatial_dims``.
        DataSourceError: If ``root`` is not a folder or holds no file with a known extension (the message names
            the folder and the extensions looked for).
    """

    def __init__(
        self, root: str | Path, size: int | tuple[int, ...], channels: int, spatial_dims: int = 2, cache: bool = True
    ) -> None:
        _deprecated("FolderOutliers", "OutlierSet.from_paths(folder)")
        if spatial_dims not in (2, 3):
            raise ConfigError(f"spatial_dims must be 2 or 3; got {spatial_dims!r}")
        spatial: tuple[int, ...] = ()
        try:
            if isinstance(size, Sequence):
                spatial = tuple(operator.index(s) for s in size)
            else:
                spatial = (operator.index(size),) * spatial_dims
        except TypeError:
            pass
        if len(spatial) != spatial_dims or any(s < 1 for s in spatial):
            raise ConfigError(f"size must be a positive int or a tuple of {spatial_dims} of them; got {size!r}")
        if not isinstance(channels, int) or channels < 1:
            raise ConfigError(f"channels must be an int >= 1; got {channels!r}")
        self.root = Path(root)
        self.size = spatial
        self.channels = channels
        self.spatial_dims = spatial_dims
        self.extensions = IMAGE_EXTENSIONS if spatial_dims == 2 else VOLUME_EXTENSIONS
        if not self.root.is_dir():
            raise DataSourceError(f"outlier folder {self.root} does not exist or is not a folder")
        self.files = sorted(p for p in self.root.rglob("*") if p.is_file() and _has_extension(p, self.extensions))
        if not self.files:
            raise DataSourceError(
                f"no outlier files under {self.root} (searched recursively for {', '.join(self.extensions)})"
            )
        self._cache: dict[tuple[int, tuple[int, ...]], Tensor] | None = {} if cache else None

    def __len__(self) -> int:
        return len(self.files)

    def __repr__(self) -> str:
        return f"FolderOutliers({str(self.root)!r}, size={self.size}, channels={self.channels}, files={len(self)})"

    def _read(self, path: Path) -> Tensor:
        try:
            if path.name.lower().endswith(".npy"):
                a = np.load(path, allow_pickle=False)
                if a.ndim == self.spatial_dims:
                    a = a[None]
                if a.ndim != self.spatial_dims + 1:
                    raise ShapeError(f"expected {self.spatial_dims}D data with an optional channel axis; got {a.shape}")
                return torch.from_numpy(_min_max(a))
            if self.spatial_dims == 3:
                import nibabel as nib

                a = np.asanyarray(nib.load(str(path)).dataobj)  # type: ignore[attr-defined]
                a = a.transpose(2, 1, 0) if a.ndim == 3 else a
                if a.ndim != 3:
                    raise ShapeError(f"expected a 3D volume; got {a.shape}")
                return torch.from_numpy(_min_max(a))[None]
            return self._read_image(path)
        except (OSError, ValueError) as exc:
            if isinstance(exc, ShapeError):
                raise ShapeError(f"{path}: {exc}") from exc
            raise CorruptFileError(path, f"cannot read outlier file: {exc}") from exc

    def _read_image(self, path: Path) -> Tensor:
        from PIL import Image

        with Image.open(path) as img:
            if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
                a = np.asarray(img).astype(np.float32)
                a = a / 65535.0 if img.mode.startswith("I;16") else _min_max(a)
                return torch.from_numpy(np.ascontiguousarray(a))[None]
            converted = img.convert("RGB" if self.channels == 3 else "L")
            a = np.asarray(converted).astype(np.float32) / 255.0
        t = torch.from_numpy(np.ascontiguousarray(a))
        return t.permute(2, 0, 1) if t.dim() == 3 else t[None]

    def load(self, index: int, spatial: tuple[int, ...] | None = None) -> Tensor:
        """Outlier number ``index`` as a float32 ``(channels, *spatial)`` tensor in [0, 1] (default: ``size``)."""
        spatial = self.size if spatial is None else tuple(spatial)
        key = (index, spatial)
        if self._cache is not None and key in self._cache:
            return self._cache[key]
        path = self.files[index]
        x = _resize(_match_channels(self._read(path), self.channels, str(path)).float(), spatial).clamp(0.0, 1.0)
        if self._cache is not None:
            self._cache[key] = x
        return x

    def __call__(self, x: Tensor, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        """Draw one outlier in place of ``x``.

        Args:
            x: The normal sample ``(C, *spatial)`` being replaced; only its shape, dtype and device are used.
                Its spatial shape wins over ``size`` when they differ.
            generator: Torch random generator choosing the file.

        Returns:
            ``(outlier, mask)``: ``(C, *spatial)`` in [0, 1] like ``x`` and a ``(1, *spatial)`` mask of ones.

        Raises:
            ShapeError: If ``x`` is not ``(channels, *spatial)`` with ``spatial_dims`` spatial axes.
            CorruptFileError: If the drawn file cannot be read.
        """
        if x.dim() != self.spatial_dims + 1 or x.shape[0] != self.channels:
            raise ShapeError(
                f"x must be ({self.channels}, {', '.join('*' * self.spatial_dims)}) for these outliers; "
                f"got {tuple(x.shape)}"
            )
        device = generator.device if generator is not None else torch.device("cpu")
        index = int(torch.randint(len(self.files), (1,), generator=generator, device=device).item())
        outlier = self.load(index, tuple(x.shape[1:])).to(x.device, x.dtype)
        return outlier, torch.ones((1, *x.shape[1:]), dtype=x.dtype, device=x.device)


class ArrayOutliers:
    """Outlier Exposure from outliers held in memory (few- and one-shot OE).

    Args:
        array: Outliers ``(K, C, *spatial)`` (numpy array or tensor, ``K >= 1``), used with the values given;
            scale them like the normal data.

    Raises:
        ShapeError: If ``array`` has fewer than 4 axes or ``K == 0``.
    """

    def __init__(self, array: np.ndarray | Tensor) -> None:
        _deprecated("ArrayOutliers", "OutlierSet.from_arrays(array)")
        t = torch.as_tensor(np.asarray(array) if not isinstance(array, Tensor) else array).float()
        if t.dim() < 4 or t.shape[0] == 0:
            raise ShapeError(
                f"array must be (K, C, *spatial) with K >= 1 and 2 or 3 spatial axes; got {tuple(t.shape)}"
            )
        self.array = t

    def __len__(self) -> int:
        return int(self.array.shape[0])

    def __repr__(self) -> str:
        return f"ArrayOutliers(shape={tuple(self.array.shape)})"

    def __call__(self, x: Tensor, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        """Draw one outlier in place of ``x``.

        Args:
            x: The normal sample ``(C, *spatial)`` being replaced; outliers are resized to its spatial shape and a
                single-channel outlier is repeated to ``C`` channels.
            generator: Torch random generator choosing the outlier.

        Returns:
            ``(outlier, mask)``: ``(C, *spatial)`` like ``x`` and a ``(1, *spatial)`` mask of ones.

        Raises:
            ShapeError: If ``x`` has another number of spatial axes or an incompatible channel count.
        """
        if x.dim() != self.array.dim() - 1:
            raise ShapeError(
                f"x must be (C, *spatial) with {self.array.dim() - 2} spatial axes like the outliers "
                f"{tuple(self.array.shape)}; got {tuple(x.shape)}"
            )
        device = generator.device if generator is not None else torch.device("cpu")
        index = int(torch.randint(len(self), (1,), generator=generator, device=device).item())
        outlier = _match_channels(self.array[index], x.shape[0], "outlier array")
        outlier = _resize(outlier, tuple(x.shape[1:])).to(x.device, x.dtype)
        return outlier, torch.ones((1, *x.shape[1:]), dtype=x.dtype, device=x.device)


def _deprecated(name: str, instead: str) -> None:
    import warnings

    warnings.warn(f"{name} is deprecated and will be removed in the next release: use {instead} with "
                  "seedlens.anomaly.OutlierExposure (prepared like the normal samples, augmented when few)",
                  DeprecationWarning, stacklevel=3)
