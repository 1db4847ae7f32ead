"""Configuration of the fusion predictor, with its constraints declared as data."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from seedlens.config import Interval, validate_config

#: Encoder per modality kind when the config does not name one: small enough to train on two CPU cores.
DEFAULT_ENCODERS: dict[str, dict[str, Any]] = {
    "volume": {"backbone": "fcdd3d", "channels": [8, 16, 32]},
    "cube": {"backbone": "spectral", "spectral_channels": [32], "spatial_channels": [32, 64]},
    "image": {"backbone": "conv2d", "channels": [16, 32, 64]},
}


@dataclass
class FusionConfig:
    """Options of :class:`~seedlens.predictors.FusionPredictor`.

    Attributes:
        targets: Columns to predict: a categorical column is a classification target (e.g. ``germination``), a
            numeric one a regression target (e.g. ``oil_content``); trained jointly.
        modalities: Columns used as inputs, each its own modality (path columns and table columns); None uses
            every column that is not a target.
        fusion: ``attention`` (a transformer over modality tokens, missing ones masked) or ``concat``.
        dim: Embedding length of every modality.
        modality_dropout: Probability of hiding each modality of a training sample, so the model learns to
            predict from any subset.
        encoders: Encoder per modality name: ``{"backbone": NAME, **backbone options}`` for image-like ones
            (``{"backbone": "efficientnet_lite0"}`` for the pretrained 2D encoder), ``{"hidden": H}`` for table
            columns; unnamed modalities get :data:`DEFAULT_ENCODERS` of their kind.
        warm_start: Trained FCDD detector run folder per modality name; the encoder's backbone starts from its
            weights (exactly; a mismatch is an error) and the modality uses its input size.
        sizes: Input side per image-like modality; default: the first training sample's size, capped.
        class_weights: ``balanced`` (inverse class frequency in the loss) or ``none``.
        epochs: Training epochs.
        batch_size: Samples per step.
        lr: AdamW learning rate.
        weight_decay: AdamW weight decay.
        lr_decay: Learning-rate factor after every epoch.
        augment: Random flips of image-like inputs during training (seeds have no canonical orientation).
        select_best: Keep the weights of the epoch with the lowest validation loss (needs a ``val`` split).
        device: ``auto``, ``cpu``, ``cuda`` or ``cuda:K``.
        amp: Mixed precision on CUDA.
        seed: Seed of initialisation, batch order, dropout and augmentation.
    """

    targets: tuple[str, ...] = ("germination",)
    modalities: tuple[str, ...] | None = None
    fusion: str = "attention"
    dim: int = 64
    modality_dropout: float = 0.25
    encoders: dict[str, dict[str, Any]] | None = None
    warm_start: dict[str, str] | None = None
    sizes: dict[str, int] | None = None
    class_weights: str = "balanced"
    epochs: int = 60
    batch_size: int = 32
    lr: float = 2e-3
    weight_decay: float = 1e-4
    lr_decay: float = 0.95
    augment: bool = True
    select_best: bool = True
    device: str = "auto"
    amp: bool = True
    seed: int = 0

    CONSTRAINTS: ClassVar[dict[str, Any]] = {
        "targets": tuple,
        "modalities": (tuple, None),
        "fusion": frozenset({"attention", "concat"}),
        "dim": Interval(4, 4096, integer=True),
        "modality_dropout": Interval(0, 1, closed=True),
        "encoders": (dict, None),
        "warm_start": (dict, None),
        "sizes": (dict, None),
        "class_weights": frozenset({"balanced", "none"}),
        "epochs": Interval(0, None, integer=True),
        "batch_size": Interval(1, None, integer=True),
        "lr": Interval(0, None, closed=False),
        "weight_decay": Interval(0, None),
        "lr_decay": Interval(0, 1),
        "augment": bool,
        "select_best": bool,
        "device": str,
        "amp": bool,
        "seed": Interval(0, None, integer=True),
    }

    def validate(self) -> None:
        """Check every field against :attr:`CONSTRAINTS` (the error names the field, value and what is allowed)."""
        self.targets = tuple(self.targets) if isinstance(self.targets, list) else self.targets
        if isinstance(self.modalities, list):
            self.modalities = tuple(self.modalities)
        validate_config(self, self.CONSTRAINTS, where="FusionConfig")
        from seedlens.errors import ConfigError

        if not self.targets:
            raise ConfigError("FusionConfig: targets is empty; name at least one column to predict")
        if self.modality_dropout >= 1:
            raise ConfigError(f"FusionConfig: modality_dropout={self.modality_dropout} must be below 1")
