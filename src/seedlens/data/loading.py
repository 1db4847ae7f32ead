"""Load a record's files into arrays: the sample, and its masks checked against it."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, cast

import numpy as np

from seedlens.data.records import Record
from seedlens.errors import ReadError, ShapeError
from seedlens.types import ArrayMeta, Modality

__all__ = ["LoadedSample", "Reader", "binarize_mask", "load_record"]


class Reader(Protocol):
    """A file reader with the signature of ``seedlens.io.read``.

    It returns the array channel-first (``(C, H, W)``, ``(C, D, H, W)`` or ``(bands, H, W)``) and its meta.
    """

    def __call__(self, path: Path, *, modality: str | Modality | None = None) -> tuple[np.ndarray, ArrayMeta]:
        """Read ``path``; ``modality`` settles ambiguous layouts (None: infer from the file)."""
        ...


@dataclass
class LoadedSample:
    """A record with its files read.

    Attributes:
        array: The sample, channel-first: ``(C, H, W)`` image, ``(C, D, H, W)`` volume or ``(bands, H, W)`` cube.
        meta: What the reader knows about it (modality, spacing, wavelengths...).
        mask: Ground-truth anomaly mask ``(1, *spatial)`` bool, or None when the record has none.
        object_mask: Object mask ``(1, *spatial)`` bool, or None.
        record: The record that was loaded.
    """

    array: np.ndarray
    meta: ArrayMeta
    mask: np.ndarray | None
    object_mask: np.ndarray | None
    record: Record


def binarize_mask(mask: np.ndarray) -> np.ndarray:
    """Turn a read mask ``(C, *spatial)`` into ``(1, *spatial)`` bool: ``value > 0.5`` in any channel.

    0/1, bool, 0/255 and float [0, 1] masks all binarise as expected; an RGB mask counts a pixel that
    is set in any channel.
    """
    return np.any(np.asarray(mask) > 0.5, axis=0, keepdims=True)


def _default_reader() -> Reader:
    """``seedlens.io.read``, imported on first use."""
    return cast(Reader, importlib.import_module("seedlens.io").read)


def _read(reader: Reader, path: Path, modality: str | Modality | None, what: str) -> tuple[np.ndarray, ArrayMeta]:
    if not path.exists():
        raise ReadError(path, f"{what} file not found")
    return reader(path, modality=modality)


def load_record(
    record: Record,
    modality: str | Modality | None = None,
    *,
    reader: Reader | None = None,
) -> LoadedSample:
    """Read a record's sample and, when listed, its mask and object mask.

    Masks are read as images for image and cube samples and as volumes for volume samples,
    binarised (:func:`binarize_mask`) and checked to have the sample's spatial shape.

    Args:
        record: The record to load.
        modality: Passed to the reader for the sample; None lets it infer from the file.
        reader: A function like ``seedlens.io.read`` (the default), e.g. to read from another store.

    Returns:
        The :class:`LoadedSample`.

    Raises:
        ReadError: when a file is missing or unreadable (the error names the file).
        ShapeError: when a mask's spatial shape differs from the sample's (naming both files and shapes).
    """
    read = reader if reader is not None else _default_reader()
    array, meta = _read(read, record.path, modality, "sample")
    array = np.asarray(array)
    mask_modality = Modality.VOLUME if Modality.parse(meta.modality) is Modality.VOLUME else Modality.IMAGE
    masks: dict[str, np.ndarray | None] = {}
    for what, path in (("mask", record.mask), ("object mask", record.object_mask)):
        if path is None:
            masks[what] = None
            continue
        raw, _ = _read(read, path, mask_modality, what)
        binary = binarize_mask(raw)
        if binary.shape[1:] != array.shape[1:]:
            raise ShapeError(
                f"{what} {path} has spatial shape {tuple(binary.shape[1:])} (array {tuple(np.shape(raw))}) but "
                f"sample {record.path} has {tuple(array.shape[1:])} (array {tuple(array.shape)}); they must match"
            )
        masks[what] = binary
    return LoadedSample(array=array, meta=meta, mask=masks["mask"], object_mask=masks["object mask"], record=record)
