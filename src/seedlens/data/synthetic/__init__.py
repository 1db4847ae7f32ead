"""Synthetic rapeseed data: CT-like seed phantoms, 2D slices, hyperspectral cubes and dataset writers.

Every generator is seeded (``rng``: a numpy Generator, an int or None) and documents its fixed difficulty in
its module docstring: :mod:`~seedlens.data.synthetic.phantom` (volumes), :mod:`~seedlens.data.synthetic.slices`
(images), :mod:`~seedlens.data.synthetic.cube` (hyperspectral cubes) and
:mod:`~seedlens.data.synthetic.multimodal` (one seed in every modality, for fusion).
"""

from seedlens.data.synthetic.cube import CUBE_DEFECT_TYPES, SeedCube, make_seed_cube
from seedlens.data.synthetic.dataset import MANIFEST_COLUMNS, write_seed_dataset
from seedlens.data.synthetic.multimodal import (
    MultiModalSeed,
    SeedState,
    draw_seed_state,
    make_multimodal_seed,
    oracle_macro_f1,
    write_multimodal_dataset,
)
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
    "MultiModalSeed",
    "SeedCube",
    "SeedPhantom",
    "SeedSlice",
    "SeedState",
    "draw_seed_state",
    "make_multimodal_seed",
    "make_seed_cube",
    "make_seed_slice",
    "make_seed_volume",
    "oracle_macro_f1",
    "write_multimodal_dataset",
    "write_seed_dataset",
]
