"""Training anomalies shared by the detectors that learn from them (FCDD, HSC).

They come from synthetic confetti noise, Outlier Exposure images, or labelled anomalies of the train split;
the training-time flips live here too.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import torch

from seedlens.anomaly.noise import REFERENCE_STD
from seedlens.config import Interval
from seedlens.detectors.config import DeepDetectorConfig
from seedlens.errors import ConfigError
from seedlens.types import Modality

if TYPE_CHECKING:
    from seedlens.anomaly import OutlierSet
    from seedlens.detectors._intake import TrainingData

log = logging.getLogger(__name__)


@dataclass
class ExposureConfig(DeepDetectorConfig):
    """Options of detectors trained against anomalies.

    Attributes:
        anomalies: Where training anomalies come from: ``auto`` (``outliers`` when ``outliers`` or
            ``outliers_where`` is given, else ``confetti``), ``confetti`` (synthetic confetti noise; spectral
            confetti for cubes), ``noise`` (whole samples replaced by clamped Gaussian noise, mapped by the
            detector's intensity rule: the FCDD reference's "noise" supervision on Fashion-MNIST and CIFAR-10,
            :class:`~seedlens.anomaly.GaussianNoiseImages`), ``outliers`` (Outlier Exposure: samples of
            ``outliers`` / ``outliers_where``, prepared like the normal samples, see
            :class:`~seedlens.anomaly.OutlierExposure`) or ``none`` (only labelled anomalies of the train split;
            needs ``use_labelled_anomalies``).
        outliers: Outlier Exposure samples: a file or folder, a list of them (folders are searched recursively for
            sample files), an :class:`~seedlens.anomaly.OutlierSet`, or arrays ``(K, C, *spatial)``. Files are read
            like the data (16-bit TIFF, NIfTI, DICOM, ENVI...). None: no outliers.
        outliers_where: For data from a hub: an EXPR query (e.g. ``"germination = 'dead'"``) whose samples are
            outliers for Outlier Exposure of the same data (semi-supervised); samples of the test split are never
            used.
        outlier_count: How many outliers to use: a fixed subset of N drawn by ``seed`` (the EOE protocol: 1, 2,
            4, ...), or ``all``.
        outlier_augment: ``strong`` (random resized crops, rotations, flips, intensity / colour jitter:
            :class:`~seedlens.anomaly.OutlierAugment`), ``none``, or ``auto`` = ``strong`` for sets of up to
            :data:`~seedlens.anomaly.outlier_exposure.FEW_OUTLIERS` outliers and ``none`` for larger ones.
        outlier_scaling: How outlier values relate to the normal data's before the detector's preprocessing:
            ``match`` (each outlier's own range — 8/16-bit by its type, otherwise min-max — mapped onto the normal
            training samples' value range: unrelated pictures of any bit depth), ``raw`` (values as read: outliers
            from the same instrument as the normals), or ``auto`` = ``raw`` for ``outliers_where`` and arrays,
            ``match`` for files.
        outlier_dir: Deprecated alias of ``outliers`` (a folder).
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

    anomalies: str = "auto"
    outliers: Any = None
    outliers_where: str | None = None
    outlier_count: int | str = "all"
    outlier_augment: str = "auto"
    outlier_scaling: str = "auto"
    outlier_dir: str | None = None
    noise_std: float = REFERENCE_STD
    p_anomaly: float = 0.5
    use_labelled_anomalies: bool = False
    confetti_placement: str = "auto"
    confetti_blob_volume: tuple[float, float] | None = None
    confetti_intensity: tuple[float, float] | None = None
    confetti_max_blobs: int | None = None

    CONSTRAINTS: ClassVar[dict[str, Any]] = {
        "anomalies": frozenset({"auto", "confetti", "noise", "outliers", "none"}),
        "outliers_where": (str, None),
        "outlier_count": (frozenset({"all"}), Interval(1, None, integer=True)),
        "outlier_augment": frozenset({"auto", "strong", "none"}),
        "outlier_scaling": frozenset({"auto", "match", "raw"}),
        "outlier_dir": (str, None),
        "noise_std": Interval(0, None, closed=False),
        "p_anomaly": Interval(0, 1),
        "use_labelled_anomalies": bool,
        "confetti_placement": frozenset({"auto", "anywhere", "foreground"}),
        "confetti_blob_volume": (tuple, None),
        "confetti_intensity": (tuple, None),
        "confetti_max_blobs": (Interval(1, None, integer=True), None),
    }

    def validate(self) -> None:
        """The declared constraints, and ``outliers`` being paths, an outlier set or arrays."""
        from seedlens.anomaly.outlier_sets import check_outliers_option

        super().validate()
        check_outliers_option(self.outliers, type(self).__name__)
        given = self.outliers is not None or bool(self.outliers_where) or bool(self.outlier_dir)
        if given and self.anomalies not in ("auto", "outliers"):
            raise ConfigError(f"{type(self).__name__}: outliers are given but anomalies={self.anomalies!r} would "
                              "ignore them; use anomalies='outliers' (or 'auto'), or drop the outliers")


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


def anomaly_source(config: ExposureConfig) -> str:
    """``config.anomalies`` with ``auto`` resolved: ``outliers`` when outliers are given, else ``confetti``."""
    if config.anomalies != "auto":
        return config.anomalies
    given = config.outliers is not None or config.outliers_where or config.outlier_dir
    return "outliers" if given else "confetti"


def outlier_set(config: ExposureConfig, samples: TrainingData) -> OutlierSet:
    """The outliers ``config`` asks for, as a fixed subset of ``outlier_count``, never from the test split.

    Raises:
        ConfigError: no outliers are given; ``outliers_where`` without a hub; outliers that are test samples;
            more outliers asked for than there are.
        DataSourceError: an outlier path is missing, a folder holds none, or the query selects nothing.
    """
    from seedlens.anomaly import OutlierSet

    parts: list[OutlierSet] = []
    given = config.outliers
    if config.outlier_dir:
        warnings.warn("outlier_dir is deprecated; use outliers=FOLDER (or several files and folders)",
                      DeprecationWarning, stacklevel=3)
        parts.append(OutlierSet.from_paths(config.outlier_dir, samples.modality))
    if isinstance(given, OutlierSet):
        parts.append(given)
    elif isinstance(given, (str, Path)) or (isinstance(given, (list, tuple)) and given
                                             and all(isinstance(g, (str, Path)) for g in given)):
        parts.append(OutlierSet.from_paths(given, samples.modality))
    elif given is not None:
        parts.append(OutlierSet.from_arrays(given, samples.modality))
    if config.outliers_where:
        parts.append(_hub_outliers(config.outliers_where, samples))
    if not parts:
        raise ConfigError("anomalies='outliers' needs outliers=FILES_OR_FOLDERS (--outliers), outlier arrays, or "
                          "outliers_where=EXPR for data from a hub")
    combined = parts[0] if len(parts) == 1 else OutlierSet.union(parts)
    source = samples.source
    if source is not None and getattr(source, "hub", None) is None:
        # a hub's test samples are never files given here (its records are cached blobs), and outliers_where keeps
        # off its test split; listing them would fetch every test blob
        combined.check_disjoint([r.path for r in source.records("test")])
    return combined.subset(config.outlier_count, seed=config.seed)


def _hub_outliers(where: str, samples: TrainingData) -> OutlierSet:
    """Samples of the training data's hub matching ``where``, outside its test split and its normal training set."""
    from seedlens.anomaly import OutlierSet

    source = samples.source
    hub = getattr(source, "hub", None)
    if hub is None:
        raise ConfigError(f"outliers_where={where!r} selects outliers in a hub; this data does not come from one "
                          "(train with --hub, or give outlier files with --outliers)")
    from seedlens.hub import HubSource

    query = f"({source.where}) AND ({where})" if source.where else where  # outliers of the same data
    selection = HubSource(hub, where=query, label_field=source.label_field, normal_class=source.normal_class,
                          modality=samples.modality.value, project=source.project, cache_dir=source.cache_dir)
    records = [r for r in selection.records() if r.split != "test" and r.label != source.normal_class]
    if not records:
        raise ConfigError(f"outliers_where={where!r} selects no sample outside the test split that is not labelled "
                          f"{source.normal_class!r}")
    return OutlierSet.from_records(records, samples.modality, scaling_hint="raw")


def make_online_anomalies(
    config: ExposureConfig,
    modality: Modality,
    input_size: tuple[int, ...],
    has_labelled: bool,
    preprocessor: Any = None,
    outliers: OutlierSet | None = None,
    value_range: tuple[float, float] | None = None,
) -> Any:
    """Return the ``OnlineReplacement`` that corrupts normal training samples, or None for ``anomalies="none"``.

    ``preprocessor`` (the fitted :class:`~seedlens.data.transforms.Preprocessor`) maps ``noise`` images like normal
    samples: its ``contrast`` rule is applied to them; after any other rule they are drawn in [0, 1]. It also
    prepares ``outliers`` (:func:`outlier_set`), after ``value_range`` (the normal training samples' raw range)
    has rescaled them when ``outlier_scaling`` says so.

    Raises:
        ConfigError: ``none`` without labelled anomalies, or ``outliers`` without an outlier set.
    """
    from seedlens.anomaly import GaussianNoiseImages, OnlineReplacement, OutlierExposure, SpectralConfetti
    from seedlens.anomaly.noise import contrast_rule
    from seedlens.anomaly.outlier_augment import OutlierAugment
    from seedlens.anomaly.outlier_exposure import matched_scaling, strong_augmentation

    anomalies = anomaly_source(config)
    if anomalies == "none":
        if not has_labelled:
            raise ConfigError(
                "anomalies='none' needs labelled anomalies in the train split (use_labelled_anomalies=True); "
                "a one-class network trained on normals alone collapses to a constant"
            )
        return None
    generator: Any
    if anomalies == "outliers":
        if outliers is None or preprocessor is None:
            raise ConfigError("anomalies='outliers' needs an outlier set and the fitted preprocessing")
        scaling = config.outlier_scaling  # auto: each outlier by its own hint (files matched, the data's own raw)
        if scaling != "raw" and value_range is None:
            raise ConfigError(f"outlier_scaling={scaling!r} needs the normal samples' value range")
        generator = OutlierExposure(
            outliers, lambda array, spacing: preprocessor(array, spacing), input_size,
            scaling=matched_scaling(value_range) if scaling != "raw" and value_range is not None else None,
            scale_hinted_only=scaling == "auto",
            augment=OutlierAugment() if strong_augmentation(config.outlier_augment, len(outliers)) else None,
        )
    elif anomalies == "noise":
        contrast = preprocessor is not None and preprocessor.intensity == "contrast"
        rule = contrast_rule(float(preprocessor.lo_), float(preprocessor.hi_)) if contrast else None
        generator = GaussianNoiseImages(config.noise_std, intensity=rule)
    elif modality is Modality.CUBE:
        generator = SpectralConfetti()
    else:
        generator = make_confetti(config, modality)
    return OnlineReplacement(generator, p=config.p_anomaly)


def resolve_outliers(config: ExposureConfig, samples: TrainingData) -> OutlierSet | None:
    """The outlier set of a detector about to fit (None: no Outlier Exposure), before any sample is preprocessed.

    Resolving it first makes a missing path, an overlap with the test split or too high a count fail at once.
    """
    return outlier_set(config, samples) if anomaly_source(config) == "outliers" else None


def prepare_anomalies(config: ExposureConfig, modality: Modality, input_size: tuple[int, ...],
                      samples: TrainingData, cache: Any, outliers: OutlierSet | None) -> Any:
    """The online anomalies of a detector about to train: :func:`make_online_anomalies` with its outliers.

    ``cache`` is the :class:`~seedlens.data.patches.PreprocessedCache` of the training samples (its fitted
    preprocessor and the normals' value range prepare the outliers); ``outliers`` the set :func:`resolve_outliers`
    gave before preprocessing (None: no Outlier Exposure).
    """
    from seedlens.anomaly.outlier_sets import recorded_outliers

    if outliers is not None:
        log.info("Outlier Exposure with %d outlier(s)", len(outliers))
        config.outliers = recorded_outliers(config.outliers, outliers)  # a run folder records names, not arrays
    return make_online_anomalies(config, modality, input_size, has_labelled=any(samples.train_labels),
                                 preprocessor=cache.preprocessor, outliers=outliers,
                                 value_range=cache.value_range())


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
