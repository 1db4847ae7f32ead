"""Training anomalies shared by the detectors that learn from them (FCDD, HSC).

They come from synthetic confetti noise, Outlier Exposure images, or labelled anomalies of the train split;
the training-time flips live here too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch

from seedlens.anomaly.noise import REFERENCE_STD
from seedlens.config import Interval
from seedlens.detectors.config import DeepDetectorConfig
from seedlens.errors import ConfigError
from seedlens.types import Modality


@dataclass
class ExposureConfig(DeepDetectorConfig):
    """Options of detectors trained against anomalies.

    Attributes:
        anomalies: Where training anomalies come from: ``confetti`` (synthetic confetti noise; spectral
            confetti for cubes), ``noise`` (whole samples replaced by clamped Gaussian noise, mapped by the
            detector's intensity rule: the FCDD reference's "noise" supervision on Fashion-MNIST and CIFAR-10,
            :class:`~seedlens.anomaly.GaussianNoiseImages`), ``outliers`` (Outlier Exposure images from
            ``outlier_dir``) or ``none`` (only labelled anomalies of the train split; needs
            ``use_labelled_anomalies``).
        outlier_dir: Folder of unrelated images for ``anomalies="outliers"``.
        noise_std: Standard deviation of ``anomalies="noise"`` as a fraction of the raw value range (the
            reference's 64 of 255 grey levels).
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
    noise_std: float = REFERENCE_STD
    p_anomaly: float = 0.5
    use_labelled_anomalies: bool = False
    confetti_placement: str = "auto"
    confetti_blob_volume: tuple[float, float] | None = None
    confetti_intensity: tuple[float, float] | None = None
    confetti_max_blobs: int | None = None

    CONSTRAINTS: ClassVar[dict[str, Any]] = {
        "anomalies": frozenset({"confetti", "noise", "outliers", "none"}),
        "outlier_dir": (str, None),
        "noise_std": Interval(0, None, closed=False),
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
    preprocessor: Any = None,
) -> Any:
    """Return the ``OnlineReplacement`` that corrupts normal training samples, or None for ``anomalies="none"``.

    ``preprocessor`` (the fitted :class:`~seedlens.data.transforms.Preprocessor`) maps ``noise`` images like normal
    samples: its ``contrast`` rule is applied to them; after any other rule they are drawn in [0, 1].

    Raises:
        ConfigError: ``none`` without labelled anomalies, or ``outliers`` without ``outlier_dir``.
    """
    from seedlens.anomaly import FolderOutliers, GaussianNoiseImages, OnlineReplacement, SpectralConfetti
    from seedlens.anomaly.noise import contrast_rule

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
    elif config.anomalies == "noise":
        contrast = preprocessor is not None and preprocessor.intensity == "contrast"
        rule = contrast_rule(float(preprocessor.lo_), float(preprocessor.hi_)) if contrast else None
        generator = GaussianNoiseImages(config.noise_std, intensity=rule)
    elif modality is Modality.CUBE:
        generator = SpectralConfetti()
    else:
        generator = make_confetti(config, modality)
    return OnlineReplacement(generator, p=config.p_anomaly)


def expose(
    online: Any,
    batch: dict[str, torch.Tensor],
    generator: torch.Generator,
    config: DeepDetectorConfig,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Augment (if ``config.augment``: :func:`augment_batch`) and replace normal samples of ``batch`` by anomalies.

    Returns:
        ``x (N, C, *spatial)``, ``labels (N,)`` (1 = anomalous) and ``masks (N, 1, *spatial)``.
    """
    x, labels, masks = batch["x"], batch["label"], batch["mask"]
    if config.augment:
        x, masks = augment_batch(x, masks, generator, config)
    if online is not None:
        normal = labels < 0.5
        if bool(normal.any()):
            batched = bool(getattr(online, "batched", False))
            # batched generators run where the network trains; per-sample ones (outlier files, spectral) on the CPU
            draw = generator if batched else cpu_generator(generator)
            chosen = x[normal].detach() if batched else x[normal].detach().cpu()
            x_new, labels_new, masks_new = online(chosen, draw)
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


def augment_batch(x: torch.Tensor, masks: torch.Tensor, generator: torch.Generator,
                  config: DeepDetectorConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """The training augmentation of a batch ``(N, C, *spatial)`` and its masks, on the batch's device.

    Random shifts by up to ``config.augment_shift`` positions per axis (:func:`random_shifts`), then flips along
    the axes ``config.augment_flips`` names (:func:`random_flips`).
    """
    if config.augment_shift > 0:
        x, masks = random_shifts(x, masks, config.augment_shift, generator)
    last_only = config.augment_flips == "last"
    return random_flips(x, masks, generator, axes=(x.ndim - 1,) if last_only else None)


def random_shifts(x: torch.Tensor, masks: torch.Tensor, shift: int,
                  generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Shift each sample ``(N, C, *spatial)`` (and its mask) by a random offset in ``[-shift, shift]`` per axis.

    As a random crop of the sample padded by ``shift`` on every side (the FCDD reference's ``RandomCrop(padding)``):
    what enters at the border is the sample's own minimum (its background), and 0 in the mask.
    """
    n, dims = x.shape[0], x.ndim - 2
    offsets = torch.randint(-shift, shift + 1, (n, dims), generator=generator, device=generator.device)
    offsets = offsets.to(x.device)
    floor = x.flatten(1).amin(dim=1).reshape(-1, *([1] * (x.ndim - 1)))
    out_x, out_m = x, masks
    for axis in range(dims):
        size = x.shape[2 + axis]
        source = torch.arange(size, device=x.device)[None, :] - offsets[:, axis : axis + 1]  # (N, size)
        inside = (source >= 0) & (source < size)
        view = [n] + [1] * (x.ndim - 1)
        view[2 + axis] = size
        index = source.clamp(0, size - 1).reshape(view)
        keep = inside.reshape(view)
        out_x = torch.where(keep, out_x.gather(2 + axis, index.expand_as(out_x)), floor)
        out_m = torch.where(keep, out_m.gather(2 + axis, index.expand_as(out_m)), torch.zeros((), dtype=masks.dtype,
                                                                                             device=masks.device))
    return out_x, out_m


def random_flips(x: torch.Tensor, masks: torch.Tensor, generator: torch.Generator,
                 axes: tuple[int, ...] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Flip each sample ``(N, C, *spatial)`` (and its mask) along each spatial axis with probability 0.5.

    ``axes`` limits the flips to some axes of ``x`` (e.g. ``(3,)``: horizontal flips of images); None: every
    spatial axis. The draws come from ``generator`` on its own device (the training device), so nothing leaves it.
    """
    for axis in axes if axes is not None else range(2, x.ndim):
        flip = (torch.rand(x.shape[0], generator=generator, device=generator.device) < 0.5).to(x.device)
        if bool(flip.any()):
            view = (-1, *([1] * (x.ndim - 1)))
            x = torch.where(flip.reshape(view), x.flip(axis), x)
            masks = torch.where(flip.reshape(view), masks.flip(axis), masks)
    return x, masks
