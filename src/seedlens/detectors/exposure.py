"""Training anomalies shared by the detectors that learn from them (FCDD, HSC).

They come from synthetic confetti noise, Outlier Exposure images, or labelled anomalies of the train split;
the training-time flips live here too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch

from seedlens.config import Interval
from seedlens.detectors.config import DeepDetectorConfig
from seedlens.errors import ConfigError
from seedlens.types import Modality


@dataclass
class ExposureConfig(DeepDetectorConfig):
    """Options of detectors trained against anomalies.

    Attributes:
        anomalies: Where training anomalies come from: ``confetti`` (synthetic confetti noise; spectral
            confetti for cubes), ``outliers`` (Outlier Exposure images from ``outlier_dir``) or ``none``
            (only labelled anomalies of the train split; needs ``use_labelled_anomalies``).
        outlier_dir: Folder of unrelated images for ``anomalies="outliers"``.
        p_anomaly: Probability that a normal training sample is replaced by an anomaly ("online supervision").
        use_labelled_anomalies: Train also on anomalous samples of the train split (semi-supervised).
        confetti_placement: Where confetti blobs go (:class:`~seedlens.anomaly.ConfettiNoise` ``placement``):
            ``anywhere``, ``foreground`` (on the object: above Otsu's threshold) or ``auto`` = ``foreground`` for
            volumes and ``anywhere`` for images. A CT volume is mostly an object (a seed, an organ, a part) on
            air: uniformly placed blobs land mostly in the air, where a bright blob on black is trivial and
            teaches nothing about the object's structure; blobs on the object are local density changes of the
            kind an object-centred detector has to notice.
        confetti_blob_volume: ``(low, high)`` blob volume as a fraction of the object's volume; None = ``auto``:
            :data:`VOLUME_BLOB_VOLUME` for volumes (per-axis fractions multiply to tiny blobs in 3D), the paper's
            per-axis sizes for images.
        confetti_intensity: ``(low, high)`` blob colour magnitude as a fraction of the value range; None =
            ``auto``: :data:`VOLUME_INTENSITY` for volumes (blobs inside an object change its density, faint
            changes included), the paper's ``(0.2, 1.0)`` for images.
        confetti_max_blobs: Most blobs per sample; None = ``auto``: 3 for volumes (blobs of up to 5 % of the
            object each), 6 for images.
    """

    anomalies: str = "confetti"
    outlier_dir: str | None = None
    p_anomaly: float = 0.5
    use_labelled_anomalies: bool = False
    confetti_placement: str = "auto"
    confetti_blob_volume: tuple[float, float] | None = None
    confetti_intensity: tuple[float, float] | None = None
    confetti_max_blobs: int | None = None

    CONSTRAINTS: ClassVar[dict[str, Any]] = {
        "anomalies": frozenset({"confetti", "outliers", "none"}),
        "outlier_dir": (str, None),
        "p_anomaly": Interval(0, 1),
        "use_labelled_anomalies": bool,
        "confetti_placement": frozenset({"auto", "anywhere", "foreground"}),
        "confetti_blob_volume": (tuple, None),
        "confetti_intensity": (tuple, None),
        "confetti_max_blobs": (Interval(1, None, integer=True), None),
    }


#: Default confetti blob volume for volumes, as a fraction of the object: compact local changes of 0.5–5 %.
VOLUME_BLOB_VOLUME = (0.005, 0.05)
#: Default confetti colour magnitude for volumes, as a fraction of the value range: faint to strong changes.
VOLUME_INTENSITY = (0.05, 0.6)
#: Blob shapes for volumes: compact boxes and ellipsoids and thin plates (sheets).
VOLUME_SHAPES = ("box", "ellipsoid", "plate")


def make_confetti(config: ExposureConfig, modality: Modality) -> Any:
    """Return the :class:`~seedlens.anomaly.ConfettiNoise` for images or volumes, ``auto`` options resolved.

    Images get the paper's confetti (uniform placement, per-axis sizes) unless options say otherwise; volumes
    get blobs on the object, sized by volume, of faint to strong contrast, with plates among the shapes (see
    :class:`ExposureConfig`).
    """
    from seedlens.anomaly import ConfettiNoise

    volume = modality is Modality.VOLUME
    placement = config.confetti_placement
    if placement == "auto":
        placement = "foreground" if volume else "anywhere"
    options: dict[str, Any] = {"spatial_dims": modality.spatial_dims, "placement": placement}
    blob_volume = config.confetti_blob_volume or (VOLUME_BLOB_VOLUME if volume else None)
    if blob_volume is not None:
        options["blob_volume"] = tuple(blob_volume)
    intensity = config.confetti_intensity or (VOLUME_INTENSITY if volume else None)
    if intensity is not None:
        options["intensity"] = tuple(intensity)
    max_blobs = config.confetti_max_blobs or (3 if volume else None)
    if max_blobs is not None:
        options["max_blobs"] = int(max_blobs)
    if volume:
        options["shapes"] = VOLUME_SHAPES
    return ConfettiNoise(**options)


def make_online_anomalies(
    config: ExposureConfig,
    modality: Modality,
    input_size: tuple[int, ...],
    channels: int,
    has_labelled: bool,
) -> Any:
    """Return the ``OnlineReplacement`` that corrupts normal training samples, or None for ``anomalies="none"``.

    Raises:
        ConfigError: ``none`` without labelled anomalies, or ``outliers`` without ``outlier_dir``.
    """
    from seedlens.anomaly import FolderOutliers, OnlineReplacement, SpectralConfetti

    if config.anomalies == "none":
        if not has_labelled:
            raise ConfigError(
                "anomalies='none' needs labelled anomalies in the train split (use_labelled_anomalies=True); "
                "a one-class network trained on normals alone collapses to a constant"
            )
        return None
    generator: Any
    if config.anomalies == "outliers":
        if not config.outlier_dir:
            raise ConfigError("anomalies='outliers' needs outlier_dir=FOLDER of unrelated images")
        generator = FolderOutliers(
            config.outlier_dir, size=input_size, channels=channels, spatial_dims=modality.spatial_dims
        )
    elif modality is Modality.CUBE:
        generator = SpectralConfetti()
    else:
        generator = make_confetti(config, modality)
    return OnlineReplacement(generator, p=config.p_anomaly)


def expose(
    online: Any,
    batch: dict[str, torch.Tensor],
    generator: torch.Generator,
    augment: bool,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Flip (if ``augment``) and replace normal samples of ``batch`` by anomalies.

    Returns:
        ``x (N, C, *spatial)``, ``labels (N,)`` (1 = anomalous) and ``masks (N, 1, *spatial)``.
    """
    x, labels, masks = batch["x"], batch["label"], batch["mask"]
    generator = cpu_generator(generator)
    if augment:
        x, masks = random_flips(x, masks, generator)
    if online is not None:
        normal = labels < 0.5
        if bool(normal.any()):
            x_new, labels_new, masks_new = online(x[normal].detach().cpu(), generator)
            x, labels, masks = x.clone(), labels.clone(), masks.clone()
            x[normal] = x_new.to(x.device, x.dtype)
            labels[normal] = labels_new.to(labels.device, labels.dtype)
            masks[normal] = masks_new.to(masks.device, masks.dtype)
    return x, labels, masks


def cpu_generator(generator: torch.Generator) -> torch.Generator:
    """Return a CPU generator seeded from ``generator`` (the training loop's may live on the GPU).

    Anomaly synthesis and flips draw on the CPU; seeding from the loop's generator keeps them reproducible
    across resumes.
    """
    if generator.device.type == "cpu":
        return generator
    seed = int(torch.randint(0, 2**62, (1,), generator=generator, device=generator.device).item())
    return torch.Generator().manual_seed(seed)


def random_flips(x: torch.Tensor, masks: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Flip each sample ``(N, C, *spatial)`` (and its mask) along each spatial axis with probability 0.5."""
    generator = cpu_generator(generator)
    for axis in range(2, x.ndim):
        flip = torch.rand(x.shape[0], generator=generator) < 0.5
        if bool(flip.any()):
            idx = flip.nonzero().flatten().to(x.device)
            x, masks = x.clone(), masks.clone()
            x[idx] = x[idx].flip(axis)
            masks[idx] = masks[idx].flip(axis)
    return x, masks
