"""Seed provenance: an acquisition cut out of another one (a grain cut out of a scan of the whole ear).

A derived acquisition records its parent by natural keys: the parent's sample id (in the same project)
and the parent acquisition's blob hash, plus the region it was cut from (a bounding box in the parent's
voxels, one ``[start, stop)`` pair per array axis) and optionally the centroid in parent voxels. No
foreign key is stored, so bundles and merges between hubs keep the link without remapping primary keys,
and a bundle may hold a child without its parent.

This module imports nothing of the hub but :mod:`seedlens.hub.names` and the errors, so the discovery
(:class:`~seedlens.hub.discover.Candidate`) and the importer can both use it without import cycles.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from seedlens.hub import names
from seedlens.hub.errors import InvalidNameError

_HASH = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class ParentLink:
    """Where a derived acquisition came from.

    Attributes:
        sample_id: The parent sample's id (in the same project as the child).
        blob: sha256 of the parent acquisition's blob.
        region: The bounding box in the parent's voxels, one ``(start, stop)`` pair per array axis
            (``start < stop``, ``start >= 0``); ``None`` when unknown.
        centroid: The child's centroid in parent voxels, one float per axis; ``None`` when unknown.

    Lists, tuples, numpy arrays and (for the region) ``slice`` objects with step 1, as
    ``scipy.ndimage.find_objects`` gives them, are accepted and kept as tuples of ints / floats;
    :meth:`region_json` and :meth:`centroid_json` give the JSON lists the catalog stores.

    Raises:
        InvalidNameError: a malformed sample id, blob hash, region or centroid.
    """

    sample_id: str
    blob: str
    region: Sequence[Sequence[int] | slice] | None = None
    centroid: Sequence[float] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "sample_id", names.check_sample_id(self.sample_id, "parent sample id"))
        if not isinstance(self.blob, str) or not _HASH.match(self.blob):
            raise InvalidNameError(f"parent blob must be a sha256 hex digest (64 characters 0-9a-f); "
                                   f"got {self.blob!r}")
        object.__setattr__(self, "region", _region(self.region))
        object.__setattr__(self, "centroid", _centroid(self.centroid))
        if self.region is not None and self.centroid is not None and len(self.region) != len(self.centroid):
            raise InvalidNameError(f"parent region has {len(self.region)} axes but the centroid has "
                                   f"{len(self.centroid)}")

    def region_json(self) -> list[list[int]] | None:
        """The region as the catalog stores it: ``[[start, stop], ...]``."""
        region = cast("tuple[tuple[int, int], ...] | None", self.region)  # normalised in __post_init__
        return None if region is None else [[start, stop] for start, stop in region]

    def centroid_json(self) -> list[float] | None:
        """The centroid as the catalog stores it."""
        return None if self.centroid is None else list(self.centroid)


def _integer(value: Any, what: str) -> int:
    if isinstance(value, bool):
        raise InvalidNameError(f"{what} must be an integer; got {value!r}")
    if isinstance(value, float) and value.is_integer():
        return int(value)
    try:
        return operator.index(value)  # int and numpy integers
    except TypeError:
        raise InvalidNameError(f"{what} must be an integer; got {value!r}") from None


def _listed(value: Any) -> Any:
    """Numpy arrays (and their rows) as lists; anything else unchanged."""
    tolist = getattr(value, "tolist", None)
    return tolist() if callable(tolist) and not isinstance(value, (str, bytes)) else value


def _region(value: Any) -> tuple[tuple[int, int], ...] | None:
    if value is None:
        return None
    value = _listed(value)
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or not value:
        raise InvalidNameError(f"parent region must be a non-empty list of [start, stop) pairs; got {value!r}")
    out: list[tuple[int, int]] = []
    for axis, pair in enumerate(value):
        if isinstance(pair, slice):  # what scipy.ndimage.find_objects gives
            if pair.step not in (None, 1) or pair.start is None or pair.stop is None:
                raise InvalidNameError(f"parent region axis {axis}: a slice needs a start, a stop and step 1; "
                                       f"got {pair!r}")
            pair = (pair.start, pair.stop)
        pair = _listed(pair)
        if isinstance(pair, (str, bytes)) or not isinstance(pair, Sequence) or len(pair) != 2:
            raise InvalidNameError(f"parent region axis {axis} must be a [start, stop) pair; got {pair!r}")
        start = _integer(pair[0], f"parent region axis {axis} start")
        stop = _integer(pair[1], f"parent region axis {axis} stop")
        if not 0 <= start < stop:
            raise InvalidNameError(f"parent region axis {axis} must have 0 <= start < stop; got [{start}, {stop})")
        out.append((start, stop))
    return tuple(out)


def _centroid(value: Any) -> tuple[float, ...] | None:
    if value is None:
        return None
    value = _listed(value)
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or not value:
        raise InvalidNameError(f"parent centroid must be a non-empty list of numbers; got {value!r}")
    out: list[float] = []
    for axis, item in enumerate(value):
        try:
            number = float(item)
        except (TypeError, ValueError):
            raise InvalidNameError(f"parent centroid axis {axis} must be a number; got {item!r}") from None
        if isinstance(item, bool) or not math.isfinite(number):
            raise InvalidNameError(f"parent centroid axis {axis} must be a finite number; got {item!r}")
        out.append(number)
    return tuple(out)
