"""Configuration shared by the deep detectors, with its constraints declared as data."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from seedlens.config import Each, Interval, validate_config

#: Intensity normalisations a detector can apply before its network (see ``seedlens.data.transforms``).
INTENSITIES = frozenset({"auto", "contrast", "minmax", "zscore", "foreground", "window", "none"})

_POSITIVE = Interval(0, None, closed=False)

#: Passes over the training set of the automatic budget (``epochs=None``).
AUTO_EPOCHS = 30
#: Fewest optimiser steps of the automatic budget. 30 passes over 40 volumes in batches of 32 are 30 steps, after
#: which FCDD on synthetic seed volumes still scores at chance (AUROC 0.48).
AUTO_MIN_STEPS = 500


def training_budget(epochs: int | None, samples: int, batch_size: int) -> tuple[int, int]:
    """Return ``(epochs, repeats)``: the passes to train and how often each pass repeats the training set.

    A given ``epochs`` is used as it is (one repeat). ``None`` gives ``AUTO_EPOCHS`` passes, each repeating a small
    training set (reshuffled as one) enough times for ``ceil(AUTO_MIN_STEPS / AUTO_EPOCHS)`` full batches, so that
    training takes at least ``AUTO_MIN_STEPS`` steps; a large set is not repeated. Repeating within a pass, rather
    than adding passes, keeps the per-pass learning-rate decay of the configured schedule. Repeats are whole, so
    a set just short of 17 batches is doubled (up to about twice the minimum). The minimum counts the steps of one
    process; under torchrun each of W processes takes about 1/W of them.
    """
    if epochs is not None:
        return epochs, 1
    per_epoch = -(-AUTO_MIN_STEPS // AUTO_EPOCHS) * batch_size
    return AUTO_EPOCHS, max(1, -(-per_epoch // max(samples, 1)))


@dataclass
class DeepDetectorConfig:
    """Options every deep detector understands.

    Attributes:
        backbone: Backbone name from ``seedlens.models.list_backbones()``, or ``"auto"`` (chosen from the
            modality and ``image_size``: ``fcdd28``/``fcdd32``/``fcdd224`` for images, ``fcdd3d`` for volumes,
            ``spectral`` for cubes).
        modality: ``image``, ``volume`` or ``cube``; None infers it from the data.
        image_size: Fit every sample into S×S (2D) or S×S×S (3D), the aspect ratio kept (the long side scaled to S,
            the others padded) and train on whole samples. None: images are fitted into the backbone's native
            size (28 px for ``fcdd28``, 32 for ``fcdd32``, 224 for ``fcdd224`` and EfficientNet, 64 otherwise)
            unless ``patch_size`` is given; volumes and cubes stay at their native resolution (after ``spacing``)
            and train on patches.
        spacing: Physical voxel size samples are resampled to: ``auto`` (volumes: the per-axis median of the
            training samples' spacings; images and cubes keep their pixel grid), a number or one per axis (any
            modality), or None (never resample). A sample whose spacing is unknown (TIFF stacks, PNG, arrays) is
            treated as isotropic at the finest target spacing; the fitted detector records how many were.
        patch_size: Training patch per axis (one number for all) at native resolution; patches are drawn inside
            the object, and off the anomaly mask of normal samples. None: the whole sample with ``image_size``,
            else the median training shape, its physically longest axis shortened until it holds at most 64³
            voxels (3D) or 128² pixels (2D) (nnU-Net's rule). Rounded up to the network's stride.
        window_size: FCDD's sliding window per axis at inference; None: the largest of the patch size, 96 voxels
            (3D) or 512 pixels (2D), and what the receptive field needs. Scans smaller than the window are scored
            in one pass. The autoencoder and HSC slide their training patch.
        num_workers: DataLoader worker processes reading training patches (0: in the training process).
        hold_data: Keep the preprocessed training set on the training device (``TrainConfig.hold_data``):
            ``auto`` does for whole-sample training sets of up to 2 GiB (e.g. 28×28 or 224×224 images at a fixed
            ``image_size``), so no step waits on loading; patches of scans are always read per step.
        memory_format: Layout of the network's weights and activations: ``channels_last`` (NHWC), ``contiguous``
            (NCHW/NCDHW) or ``auto`` = ``channels_last`` for 2D networks (measured on 2 CPU cores: 10–13 % faster
            training and 15–50 % faster inference of the FCDD networks), ``contiguous`` for 3D ones (no gain
            measured). Results are the same up to float rounding.
        intensity: Intensity normalisation (``auto``: ``contrast`` for images, ``foreground`` for volumes — clipped
            to the 0.5/99.5 percentiles of the training foreground, then standardised, nnU-Net's rule for CT —,
            ``zscore`` for cubes).
        window: ``(level, width)`` for ``intensity="window"`` (CT in HU, e.g. lung window ``(-600, 1500)``).
        epochs: Passes over the training set; None (default) is the automatic budget: ``AUTO_EPOCHS`` passes,
            a small training set repeated within each pass so that training takes at least ``AUTO_MIN_STEPS``
            optimiser steps (see :func:`training_budget`). A given number is used as it is.
        batch_size: Training batch size.
        optimizer: ``adam``, ``adamw`` or ``sgd`` (Nesterov momentum 0.9).
        lr: Learning rate.
        backbone_lr: Learning rate of the backbone, for fine-tuning a pretrained one (``efficientnet_lite0``,
            ``efficientnet_lite2``) more gently than the new head, as EOE fine-tunes; None: ``lr``.
        freeze_stages: Keep the pretrained backbone's stem and first N stages fixed (weights and batch-norm
            statistics); 0 trains every stage.
        weight_decay: Weight decay.
        lr_decay: Learning-rate factor applied after every epoch.
        augment: Augment training samples: random flips (``augment_flips``) and shifts (``augment_shift``).
        augment_flips: Axes flipped at random: ``all`` spatial axes (seeds and scans have no canonical
            orientation) or the ``last`` one only (horizontal flips of images, as the FCDD reference).
        augment_shift: Largest random shift in pixels/voxels per axis, the border filled with the sample's minimum
            (the FCDD reference's random crop with padding 2 at 28×28); 0: none.
        device: ``auto``, ``cpu``, ``cuda`` or ``cuda:K``.
        amp: Mixed precision on CUDA (ignored on CPU).
        seed: Seed of every random draw (initialisation, order, augmentation, synthetic anomalies).
        threshold_quantile: Quantile of normal validation scores used as the decision threshold.
        threshold: A fixed threshold instead of the fitted quantile.
        val_fraction: Fraction of the normal training samples held out for the threshold when the data
            has no validation split.
        score_pooling: How a heatmap becomes a sample score: ``mean``, ``topk`` (mean of the highest
            ``topk_fraction`` of cells) or ``max``; ``auto`` = ``mean`` for images and cubes, ``topk`` for volumes
            (a 1% void barely moves the mean of a volume). Padding never counts.
        topk_fraction: Fraction of map cells averaged by ``topk`` pooling.
        heatmap_quantile: Quantile at which heatmaps are clipped before display normalisation.
        test_time_flips: Average scores and heatmaps over every flip of the spatial axes at inference (4 passes
            for 2D, 8 for volumes), thresholds included. Seeds and lungs have no canonical orientation and
            training already flips (``augment``), so the flipped passes are equally valid views whose mean is
            less noisy; it costs that many forward passes.
    """

    backbone: str = "auto"
    modality: str | None = None
    image_size: int | None = None
    spacing: str | float | tuple[float, ...] | None = "auto"
    patch_size: int | tuple[int, ...] | None = None
    window_size: int | tuple[int, ...] | None = None
    num_workers: int = 0
    hold_data: str = "auto"
    memory_format: str = "auto"
    intensity: str = "auto"
    window: tuple[float, float] | None = None
    epochs: int | None = None
    batch_size: int = 32
    optimizer: str = "adam"
    lr: float = 1e-3
    backbone_lr: float | None = None
    freeze_stages: int = 0
    weight_decay: float = 1e-6
    lr_decay: float = 0.98
    augment: bool = True
    augment_flips: str = "all"
    augment_shift: int = 0
    device: str = "auto"
    amp: bool = True
    seed: int = 0
    threshold_quantile: float = 0.95
    threshold: float | None = None
    val_fraction: float = 0.2
    score_pooling: str = "auto"
    topk_fraction: float = 0.01
    heatmap_quantile: float = 0.97
    test_time_flips: bool = False

    CONSTRAINTS: ClassVar[dict[str, Any]] = {
        "backbone": str,
        "modality": (frozenset({"image", "volume", "cube"}), None),
        "image_size": (Interval(4, 4096, integer=True), None),
        "spacing": (frozenset({"auto"}), Interval(0, None, closed=False), Each(_POSITIVE, distinct=False), None),
        "patch_size": (Interval(4, 4096, integer=True), Each(Interval(4, 4096, integer=True), distinct=False), None),
        "window_size": (Interval(4, 8192, integer=True), Each(Interval(4, 8192, integer=True), distinct=False), None),
        "num_workers": Interval(0, 256, integer=True),
        "hold_data": frozenset({"auto", "always", "never"}),
        "memory_format": frozenset({"auto", "channels_last", "contiguous"}),
        "intensity": INTENSITIES,
        "window": (tuple, None),
        "epochs": (Interval(1, None, integer=True), None),
        "batch_size": Interval(1, None, integer=True),
        "optimizer": frozenset({"adam", "adamw", "sgd"}),
        "lr": Interval(0, None, closed=False),
        "backbone_lr": (Interval(0, None, closed=False), None),
        "freeze_stages": Interval(0, 8, integer=True),
        "weight_decay": Interval(0, None),
        "lr_decay": Interval(0, 1, closed=True),
        "augment": bool,
        "augment_flips": frozenset({"all", "last"}),
        "augment_shift": Interval(0, 64, integer=True),
        "device": str,
        "amp": bool,
        "seed": Interval(0, None, integer=True),
        "threshold_quantile": Interval(0, 1),
        "threshold": (Interval(), None),
        "val_fraction": Interval(0, 1, closed=False),
        "score_pooling": frozenset({"auto", "mean", "topk", "max"}),
        "topk_fraction": Interval(0, 1, closed=False),
        "heatmap_quantile": Interval(0, 1),
        "test_time_flips": bool,
    }

    def validate(self) -> None:
        """Check every field against the declared constraints of this class and its subclasses."""
        constraints: dict[str, Any] = {}
        for cls in reversed(type(self).__mro__):
            constraints.update(getattr(cls, "CONSTRAINTS", {}) if "CONSTRAINTS" in vars(cls) else {})
        validate_config(self, constraints, where=type(self).__name__)
