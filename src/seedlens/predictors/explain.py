"""Explanations of a fusion prediction: exact Shapley contributions of the modalities and gradient heatmaps.

* **Contributions.** The value of a coalition ``S`` of modalities is the prediction with only ``S`` visible (the
  others masked exactly as a missing modality is): the probability of the explained class for a classification
  target, the trait value for a regression target. Shapley values over the sample's present modalities sum to
  ``v(all) - v(empty)``, the prediction minus the model's prior; absent modalities contribute nothing.
* **Heatmaps.** For each image-like modality, |input × gradient| of the explained output (log-probability of the
  class, or the trait value) with every modality present, summed over channels and resized back to the
  input's own resolution (slices of a volume; for a cube also a band-importance curve: the attribution summed
  over pixels per band, normalised to sum 1).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from seedlens.errors import ConfigError
from seedlens.predictors.data import FusionData
from seedlens.predictors.shapley import coalitions, shapley_values
from seedlens.types import Modality

if TYPE_CHECKING:
    from seedlens.predictors.predictor import FusionPredictor


@dataclass
class TargetContribution:
    """Shapley contributions of the modalities to one target's prediction.

    Attributes:
        target: Target name.
        explained: The class whose probability is explained, or ``"value"`` for a trait.
        prediction: ``v(all present)``: that probability or the trait value.
        base: ``v(empty)``: the prediction with every modality masked (the model's prior).
        contributions: Shapley value per present modality; they sum to ``prediction - base``.
        coalitions: Value of every coalition, keyed by its modalities joined with ``+`` (``""`` = empty).
    """

    target: str
    explained: str
    prediction: float
    base: float
    contributions: dict[str, float]
    coalitions: dict[str, float] = field(default_factory=dict)


@dataclass
class FusionExplanation:
    """Everything :meth:`FusionPredictor.explain` found for one sample.

    Attributes:
        sample_id: The sample.
        present: Modalities the sample has (the players); ``missing`` lists the others.
        missing: Modalities the sample lacks.
        targets: Contributions per target.
        heatmap_target: Target (and class) the heatmaps explain, e.g. ``germination=dead``.
        heatmaps: Attribution map per image-like modality at the input's resolution, in [0, 1]:
            ``(D, H, W)`` for volumes, ``(H, W)`` for images and cubes.
        band_importance: Per cube modality, ``(bands,)`` attribution share of each band (sums to 1).
        predictions: The full prediction: class probabilities per classification target, values per trait.
    """

    sample_id: str
    present: list[str]
    missing: list[str]
    targets: dict[str, TargetContribution]
    heatmap_target: str
    heatmaps: dict[str, np.ndarray] = field(default_factory=dict)
    band_importance: dict[str, np.ndarray] = field(default_factory=dict)
    predictions: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe summary (heatmaps are summarised by shape, peak position and maximum)."""
        summary: dict[str, Any] = {
            "sample_id": self.sample_id,
            "present": self.present,
            "missing": self.missing,
            "predictions": self.predictions,
            "heatmap_target": self.heatmap_target,
            "targets": {
                name: {
                    "explained": t.explained,
                    "prediction": t.prediction,
                    "base": t.base,
                    "contributions": t.contributions,
                    "sum_of_contributions": float(sum(t.contributions.values())),
                    "coalitions": t.coalitions,
                }
                for name, t in self.targets.items()
            },
            "heatmaps": {
                name: {"shape": list(m.shape),
                       "peak_index": [int(i) for i in np.unravel_index(int(m.argmax()), m.shape)]}
                for name, m in self.heatmaps.items()
            },
            "band_importance": {k: [float(v) for v in b] for k, b in self.band_importance.items()},
        }
        return summary


def explain_sample(model: FusionPredictor, data: FusionData, sample_id: str,
                   heatmap_target: str | None = None) -> FusionExplanation:
    """Explain the prediction of one sample (see the module docstring).

    Args:
        model: A fitted predictor.
        data: Data holding the sample.
        sample_id: Which sample.
        heatmap_target: Target the heatmaps explain; default the first classification target (else the first).

    Raises:
        DataSourceError: the sample is not in ``data``.
        ConfigError: unknown ``heatmap_target``, or too many modalities for exact Shapley values.
    """
    one = data.select([sample_id])
    inputs, present = model.encoder_.encode_inputs(one)
    names = model.modality_names
    players = [j for j in range(len(names)) if bool(present[0, j])]
    table = coalitions(len(players))
    masks = torch.zeros((table.shape[0], len(names)), dtype=torch.bool)
    for column, j in enumerate(players):
        masks[:, j] = torch.from_numpy(table[:, column])
    embedding = model.embed(inputs, present)  # the encoders run once; each coalition masks modalities out
    outputs = model.forward(inputs, masks, embedding.expand(table.shape[0], *embedding.shape[1:]))
    full = outputs  # row -1 is the full coalition
    predictions: dict[str, Any] = {}
    targets: dict[str, TargetContribution] = {}
    for target in model.targets_:
        out = full[target.name]
        if target.task == "classification":
            k = int(out[-1].argmax())
            values, explained = out[:, k], target.classes[k]
            predictions[target.name] = {c: float(p) for c, p in zip(target.classes, out[-1], strict=True)}
        else:
            values, explained = out, "value"
            predictions[target.name] = float(out[-1])
        phi = shapley_values(values, len(players))
        labels = ["+".join(names[players[c]] for c in range(len(players)) if row[c]) for row in table]
        targets[target.name] = TargetContribution(
            target.name, explained, float(values[-1]), float(values[0]),
            {names[j]: float(phi[c]) for c, j in enumerate(players)},
            {label: float(v) for label, v in zip(labels, values, strict=True)},
        )
    chosen = _heatmap_target(model, heatmap_target)
    explained = targets[chosen.name].explained
    heatmaps, bands = _attributions(model, one, inputs, present, chosen, explained)
    return FusionExplanation(
        sample_id=sample_id,
        present=[names[j] for j in players],
        missing=[n for j, n in enumerate(names) if j not in players],
        targets=targets,
        heatmap_target=f"{chosen.name}={explained}" if chosen.task == "classification" else chosen.name,
        heatmaps=heatmaps,
        band_importance=bands,
        predictions=predictions,
    )


def _heatmap_target(model: FusionPredictor, name: str | None) -> Any:
    if name is None:
        return next((t for t in model.targets_ if t.task == "classification"), model.targets_[0])
    for target in model.targets_:
        if target.name == name:
            return target
    raise ConfigError(f"unknown target {name!r}; this model predicts: {', '.join(t.name for t in model.targets_)}")


def _attributions(model: FusionPredictor, one: FusionData, inputs: dict[str, torch.Tensor], present: torch.Tensor,
                  target: Any, explained: str) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    import torch.nn.functional as F

    network = model.network_
    device = next(network.parameters()).device
    specs = {m.name: m for m in model.modalities_}
    image_like = [n for n in model.modality_names
                  if specs[n].modality is not Modality.TABLE and bool(present[0, model.modality_names.index(n)])]
    batch = {k: v.to(device).clone().requires_grad_(k in image_like) for k, v in inputs.items()}
    network.zero_grad(set_to_none=True)
    with torch.enable_grad():
        out = network(batch, present.to(device))[target.name]
        if target.task == "classification":
            value = torch.log_softmax(out.float(), dim=1)[0, target.classes.index(explained)]
        else:
            value = out.float()[0, 0]
        value.backward()
    heatmaps: dict[str, np.ndarray] = {}
    bands: dict[str, np.ndarray] = {}
    sample = one.samples[0]
    for name in image_like:
        x = batch[name]
        assert x.grad is not None
        attribution = (x.detach() * x.grad).abs()[0]  # (C, *spatial)
        spec = specs[name]
        original = one.array(sample, name)
        shape = tuple(original.shape[1:]) if original is not None else tuple(spec.size)
        spatial = attribution.sum(dim=0)[None, None]
        mode = "trilinear" if spec.modality is Modality.VOLUME else "bilinear"
        resized = F.interpolate(spatial, size=shape, mode=mode, align_corners=False)[0, 0].cpu().numpy()
        peak = float(resized.max())
        heatmaps[name] = (resized / peak if peak > 0 else resized).astype(np.float32)
        if spec.modality is Modality.CUBE:
            per_band = attribution.flatten(1).sum(dim=1).cpu().numpy().astype(np.float64)
            total = per_band.sum()
            bands[name] = per_band / total if total > 0 else per_band
    network.zero_grad(set_to_none=True)
    return heatmaps, bands
