"""A deep detector's plan: from its options and a fingerprint of the training data to the grid it works on.

The nnU-Net rules, applied to anomaly detection: volumes are resampled to one physical voxel size (the median of
the training set unless given), images keep their aspect, the intensity rule is fitted on the training set, and the
network trains on patches drawn at that resolution and scores whole scans by sliding windows. Each step is a small
function here; :class:`~seedlens.detectors.deep.DeepDetector` calls them in order and saves what they decided.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from seedlens.data.samples import SampleSet
from seedlens.data.transforms.geometry import per_axis
from seedlens.detectors.config import DeepDetectorConfig
from seedlens.inference.windows import round_up
from seedlens.types import Modality

log = logging.getLogger(__name__)

#: Input side length of whole-sample training when neither ``image_size`` nor the backbone fixes one (images).
DEFAULT_IMAGE_SIZE = 64
#: What ``intensity="auto"`` resolves to per modality. CT volumes follow nnU-Net's rule: clip to the 0.5 / 99.5
#: percentiles of the training foreground and standardise with its mean and std — absolute density is kept across
#: scans (one rule for all), while a scan with a wider value range (another scanner or field of view) is not
#: saturated. Images get FCDD's per-sample contrast normalisation, cubes a per-band z-score.
AUTO_INTENSITY = {Modality.IMAGE: "contrast", Modality.VOLUME: "foreground", Modality.CUBE: "zscore"}
#: Native input size of the registered 2D FCDD networks.
BACKBONE_SIZE = {"fcdd28": 28, "fcdd32": 32, "fcdd224": 224, "efficientnet_lite0": 224, "efficientnet_lite2": 260}
#: Most voxels of an automatic training patch (3D: 64³, 2D: 128²): the median training shape is cut down to it.
PATCH_VOXELS = {3: 64**3, 2: 128**2}
#: Largest automatic sliding window per axis at inference (3D, 2D): bigger windows waste less on their borders.
WINDOW_CAP = {3: 96, 2: 512}
#: A scan of up to this many automatic windows' voxels is scored in one pass: the windows' overlap (the receptive
#: field's margin, recomputed) would cost more time than the one larger pass costs memory (128³ against 96³ windows).
WHOLE_PASS_FACTOR = 2.5


@dataclass
class Plan:
    """What a deep detector decided about its inputs before training.

    Attributes:
        backbone: The backbone's registry name.
        image_size: Side every sample is fitted into (whole-sample training), or None (native resolution).
        spacing: Voxel size every sample is resampled to, or None (each sample keeps its grid).
        intensity: The intensity rule.
        score_pooling: How a sample's map becomes its score.
        unknown_spacing: Training samples without a voxel size (treated as isotropic).
    """

    backbone: str
    image_size: int | None
    spacing: tuple[float, ...] | None
    intensity: str
    score_pooling: str
    unknown_spacing: int = 0


def auto_backbone(modality: Modality, image_size: int | None) -> str:
    """The backbone ``backbone="auto"`` picks for a modality (and, for images, the input size)."""
    if modality is Modality.VOLUME:
        return "fcdd3d"
    if modality is Modality.CUBE:
        return "spectral"
    if image_size is not None and image_size <= 28:
        return "fcdd28"
    if image_size is None or image_size <= 96:
        return "fcdd32"
    return "fcdd224"


def whole_sample_size(config: DeepDetectorConfig, modality: Modality, backbone: str) -> int | None:
    """The side samples are fitted into, or None when the detector works at native resolution.

    ``image_size`` when given. Otherwise images (unless ``patch_size`` asks for native-resolution patches) are
    fitted into the backbone's native size or :data:`DEFAULT_IMAGE_SIZE`; volumes and cubes stay native.
    """
    if config.image_size is not None:
        return int(config.image_size)
    if modality is Modality.IMAGE and config.patch_size is None:
        return BACKBONE_SIZE.get(backbone, DEFAULT_IMAGE_SIZE)
    return None


def target_spacing(config: DeepDetectorConfig, modality: Modality, train: SampleSet) -> tuple[tuple[float, ...] | None,
                                                                                            int]:
    """The voxel size samples are resampled to, and how many training samples had none.

    ``spacing="auto"``: volumes get the per-axis median of the training samples' spacings (those that have one;
    when none has, no resampling); images and cubes keep their pixel grid. A number (or one per axis) is used as
    given for any modality; None never resamples.
    """
    dims = modality.spatial_dims
    if config.spacing is None:
        return None, 0
    if config.spacing != "auto":
        assert not isinstance(config.spacing, str)  # "auto" is the only string the config accepts
        values = per_axis(f"spacing of a {modality.value}", config.spacing, dims)
        return values, sum(spacing is None for spacing in _spacings(train))
    if modality is not Modality.VOLUME:
        return None, 0
    spacings = _spacings(train)
    known = [s for s in spacings if s is not None and len(s) == dims]
    unknown = len(spacings) - len(known)
    if not known:
        return None, unknown
    return tuple(float(v) for v in np.median(np.asarray(known, dtype=np.float64), axis=0)), unknown


def _spacings(train: SampleSet) -> list[tuple[float, ...] | None]:
    """The voxel size of every training sample, from the file headers where the format has them."""
    return [train.spacing(i) for i in range(len(train))]


def patch_size(config: DeepDetectorConfig, shapes: Sequence[tuple[int, ...]], multiple: int,
               image_size: int | None, spacing: Sequence[float] | None = None) -> tuple[int, ...]:
    """The training patch: given, else the whole sample (``image_size``), else the median training shape cut down.

    The automatic patch starts from the median shape of the preprocessed training samples and, while it holds more
    than :data:`PATCH_VOXELS`, shortens its physically longest axis (sides times ``spacing``, the detector's voxel
    size) — nnU-Net's rule: a CT of 3.3 mm slices at 0.98 mm in plane gets a patch about as deep as it is wide in
    millimetres, not a cube of voxels. Every side is rounded up to ``multiple`` (the network's total stride, or
    what its decoder needs).

    Raises:
        ConfigError: a given patch size has another number of values than 1 or the samples' axes.
    """
    dims = len(shapes[0])
    if config.patch_size is not None:
        return tuple(round_up(int(p), multiple) for p in per_axis("patch_size", config.patch_size, dims))
    if image_size is not None:
        return tuple(round_up(image_size, multiple) for _ in range(dims))
    voxel = np.asarray(spacing if spacing is not None else (1.0,) * dims, dtype=np.float64)
    patch = np.maximum(np.ceil(np.median(np.asarray(shapes), axis=0)), multiple).astype(np.int64)
    while int(np.prod(patch)) > PATCH_VOXELS[dims]:
        longest = int(np.argmax(np.where(patch > multiple, patch * voxel, -1.0)))
        patch[longest] = max(multiple, patch[longest] - multiple)
        if np.all(patch <= multiple):
            break
    return tuple(round_up(int(p), multiple) for p in patch)


def window_size(config: DeepDetectorConfig, patch: tuple[int, ...], multiple: int, smallest: int) -> tuple[int, ...]:
    """The sliding window at inference: given, else the largest of the patch, :data:`WINDOW_CAP` and ``smallest``."""
    dims = len(patch)
    if config.window_size is not None:
        given = per_axis("window_size", config.window_size, dims)
        return tuple(round_up(max(int(w), smallest), multiple) for w in given)
    return tuple(round_up(max(p, WINDOW_CAP[dims], smallest), multiple) for p in patch)


def auto_pooling(config: DeepDetectorConfig, modality: Modality) -> str:
    """``score_pooling="auto"``: ``topk`` for volumes (a small defect must not vanish in the mean of a large map),
    ``mean`` for images and cubes (FCDD's own pooling)."""
    if config.score_pooling != "auto":
        return config.score_pooling
    return "topk" if modality is Modality.VOLUME else "mean"


def describe(plan: Plan, patch: tuple[int, ...], window: tuple[int, ...]) -> dict[str, Any]:
    """The plan as saved with the model and listed in reports."""
    return {
        "backbone": plan.backbone,
        "image_size": plan.image_size,
        "spacing": list(plan.spacing) if plan.spacing is not None else None,
        "intensity": plan.intensity,
        "score_pooling": plan.score_pooling,
        "patch_size": list(patch),
        "window_size": list(window),
        "unknown_spacing": plan.unknown_spacing,
    }
