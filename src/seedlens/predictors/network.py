"""Build a :class:`~seedlens.models.fusion.FusionNet` from fitted specs, and warm-start encoders from FCDD runs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from seedlens.errors import ConfigError
from seedlens.models.fusion import BackboneEncoder, FusionNet, ModalityEncoder, TableEncoder
from seedlens.predictors.config import DEFAULT_ENCODERS, FusionConfig
from seedlens.predictors.schema import ModalitySpec, TargetSpec
from seedlens.types import Modality


def encoder_options(config: FusionConfig, spec: ModalitySpec) -> dict[str, Any]:
    """The encoder options of ``spec``'s modality: the config's, else the default of its kind."""
    given = (config.encoders or {}).get(spec.name)
    if given is not None:
        return dict(given)
    if spec.modality is Modality.TABLE:
        return {"hidden": 32}
    return dict(DEFAULT_ENCODERS[spec.kind])


def build_encoder(spec: ModalitySpec, options: Mapping[str, Any], dim: int) -> ModalityEncoder:
    """Build the encoder of one modality.

    Raises:
        ConfigError: an option is unknown, or the backbone is of another kind than the modality.
        UnknownNameError: the backbone name is not registered (with close matches).
    """
    from seedlens.models import create_backbone

    opts = dict(options)
    if spec.modality is Modality.TABLE:
        hidden = opts.pop("hidden", 32)
        if opts:
            raise ConfigError(f"unknown encoder option(s) for table column {spec.name!r}: {', '.join(opts)}; "
                              "accepted: hidden")
        return TableEncoder(spec.channels, dim, hidden=int(hidden))
    name = opts.pop("backbone", None)
    if not isinstance(name, str):
        raise ConfigError(f"encoder of {spec.name!r} needs a 'backbone' name; got {options!r}")
    backbone = create_backbone(name, in_channels=spec.channels, **opts)
    if backbone.modality is not spec.modality:
        raise ConfigError(f"backbone {name!r} takes {backbone.modality.value} inputs but modality {spec.name!r} "
                          f"is a {spec.kind}")
    return BackboneEncoder(backbone, dim)


def build_network(config: FusionConfig, modalities: Sequence[ModalitySpec], targets: Sequence[TargetSpec],
                  encoders: Mapping[str, Mapping[str, Any]]) -> FusionNet:
    """Build the (untrained) network: one encoder per modality, the fusion layer, one head per target."""
    built = {spec.name: build_encoder(spec, encoders[spec.name], config.dim) for spec in modalities}
    return FusionNet(built, {t.name: t.out_size for t in targets}, fusion=config.fusion, dim=config.dim,
                     modality_dropout=config.modality_dropout)


def detector_encoder(run: str | Path) -> tuple[dict[str, Any], dict[str, torch.Tensor], Any]:
    """Read a trained FCDD detector run: its backbone options, backbone weights and fitted detector.

    Raises:
        ReadError: the run folder is missing or incomplete.
        ConfigError: the run is not a detector with a backbone network.
    """
    from seedlens.detectors import load_detector

    detector = load_detector(run, device="cpu")
    network = getattr(detector, "network_", None)
    backbone = getattr(network, "backbone", None)
    if backbone is None:
        raise ConfigError(f"{run}: the detector has no backbone network to start an encoder from")
    options = dict(getattr(detector.config_, "backbone_options", None) or {})
    options["backbone"] = detector.backbone_name_  # type: ignore[attr-defined]
    weights = {k: v.detach().clone() for k, v in backbone.state_dict().items()}
    return options, weights, detector


def load_backbone_exactly(encoder: ModalityEncoder, weights: Mapping[str, torch.Tensor], name: str,
                          source: str | Path) -> None:
    """Load ``weights`` into ``encoder.backbone``; every name and shape must match (no silent partial load).

    Raises:
        ConfigError: the encoder has no backbone, or names or shapes differ (the message lists them).
    """
    backbone = getattr(encoder, "backbone", None)
    if backbone is None:
        raise ConfigError(f"modality {name!r} has no backbone encoder to warm-start from {source}")
    own = backbone.state_dict()
    missing = sorted(set(own) - set(weights))
    unexpected = sorted(set(weights) - set(own))
    shapes = [f"{k}: {tuple(weights[k].shape)} vs {tuple(own[k].shape)}" for k in sorted(set(own) & set(weights))
              if tuple(weights[k].shape) != tuple(own[k].shape)]
    if missing or unexpected or shapes:
        parts = []
        if missing:
            parts.append(f"missing in the detector: {', '.join(missing[:5])}")
        if unexpected:
            parts.append(f"not in the encoder: {', '.join(unexpected[:5])}")
        if shapes:
            parts.append(f"shape mismatch (detector vs encoder): {'; '.join(shapes[:5])}")
        raise ConfigError(f"cannot warm-start {name!r} from {source}: " + " | ".join(parts))
    backbone.load_state_dict(dict(weights), strict=True)
