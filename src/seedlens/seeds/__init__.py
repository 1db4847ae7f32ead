"""From a lab's raw scans to one sample per seed.

* CT (:mod:`~seedlens.seeds.ct`): grain instance segmentation of a multi-grain scan (an ear, a tube, a tray),
  :func:`~seedlens.seeds.grains.crop_grains` to cut each grain out with its bounding box and centroid,
  :func:`~seedlens.seeds.traits.grain_traits` for morphometric traits, :func:`~seedlens.seeds.split.split_ct_file`
  for the whole ``seedlens seeds split`` on a file.
* Hyperspectral (:mod:`~seedlens.seeds.hsi`): reflectance calibration with white and dark references, seed
  segmentation and tray positions; :func:`~seedlens.seeds.tray_split.split_tray_files` for a whole tray.
"""

from seedlens.seeds.ct import GrainSegmentation, NoGrainError, segment_grains
from seedlens.seeds.grains import Grain, crop_grains
from seedlens.seeds.hsi import Calibration, CalibrationError, calibrate, segment_seeds, tray_positions
from seedlens.seeds.split import SplitResult, split_ct_file, split_volume, write_split
from seedlens.seeds.traits import grain_traits
from seedlens.seeds.tray_split import TraySplit, split_tray, split_tray_files

__all__ = [
    "Calibration",
    "CalibrationError",
    "Grain",
    "GrainSegmentation",
    "NoGrainError",
    "SplitResult",
    "TraySplit",
    "calibrate",
    "crop_grains",
    "grain_traits",
    "segment_grains",
    "segment_seeds",
    "split_ct_file",
    "split_tray",
    "split_tray_files",
    "split_volume",
    "tray_positions",
    "write_split",
]
