"""Synthetic rapeseed data: CT-like seed phantoms, 2D slices, hyperspectral cubes and dataset writers.

Every generator is seeded (``rng``: a numpy Generator, an int or None) and documents its fixed difficulty in
its module docstring: :mod:`~seedlens.data.synthetic.phantom` (volumes), :mod:`~seedlens.data.synthetic.slices`
(images) and :mod:`~seedlens.data.synthetic.cube` (hyperspectral cubes).
"""

from seedlens.data.synthetic.cube import CUBE_DEFECT_TYPES, SeedCube, make_seed_cube
from seedlens.data.synthetic.dataset import MANIFEST_COLUMNS, write_seed_dataset
from seedlens.data.synthetic.phantom import (
    DEFECT_FRACTION_RANGE,
    DEFECT_TYPES,
    MAX_DENSITY_DROP,
    SeedPhantom,
    make_seed_volume,
)
from seedlens.data.synthetic.slices import SeedSlice, make_seed_slice

__all__ = [
    "CUBE_DEFECT_TYPES",
    "DEFECT_FRACTION_RANGE",
    "DEFECT_TYPES",
    "MANIFEST_COLUMNS",
    "MAX_DENSITY_DROP",
    "SeedCube",
    "SeedPhantom",
    "SeedSlice",
    "make_seed_cube",
    "make_seed_slice",
    "make_seed_volume",
    "write_seed_dataset",
]
