"""``FusionPredictor``: predict germination classes and seed traits from several modalities at once."""

from __future__ import annotations

import copy
import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from seedlens.config import atomic_write_bytes, from_dict, load_yaml, save_yaml, to_dict
from seedlens.errors import ConfigError, DataSourceError, NotFittedError, ReadError
from seedlens.models.fusion import FusionNet
from seedlens.predictors.config import FusionConfig
from seedlens.predictors.data import FusionData
from seedlens.predictors.network import build_network, detector_encoder, encoder_options, load_backbone_exactly
from seedlens.predictors.schema import Encoder, ModalitySpec, TargetSpec, fit_modality, fit_target
from seedlens.types import Modality

if TYPE_CHECKING:
    from seedlens.predictors.explain import FusionExplanation

log = logging.getLogger(__name__)

CONFIG_FILE = "fusion.yaml"
STATE_FILE = "fusion_state.json"
WEIGHTS_FILE = "fusion_weights.pt"
INFER_BATCH = 64


class FusionPredictor:
    """A multi-modal predictor: one encoder per modality, a fusion layer, one head per target.

    ``fit`` trains on the ``train`` split (the ``val`` split chooses the best epoch), ``predict`` gives class
    probabilities and trait values for any subset of modalities (a missing modality is masked, never imputed),
    ``explain`` gives exact Shapley contributions of the modalities and gradient heatmaps per image-like input,
    ``evaluate`` gives metrics per target and per modality subset; ``save``/``load`` keep everything needed.

    Args:
        **params: :class:`~seedlens.predictors.config.FusionConfig` fields.

    Example:
        >>> data = read_manifest("seeds/manifest.csv")
        >>> model = FusionPredictor(targets=("germination", "oil_content"), epochs=30).fit(data)
        >>> model.predict(data.split("test"))["germination"]["probabilities"].shape
        (200, 3)
    """

    def __init__(self, **params: Any) -> None:
        self.config = from_dict(FusionConfig, dict(params), where="FusionConfig")
        self.config.validate()

    # ------------------------------------------------------------------ fitting
    def fit(self, data: FusionData, *, run_dir: str | Path | None = None, resume: bool = False,
            progress: bool = False) -> FusionPredictor:
        """Train on ``data``'s ``train`` split; its ``val`` split (if any) picks the best epoch.

        Args:
            data: Samples with ``train`` (required) and ``val`` (optional) splits.
            run_dir: Folder for the per-epoch checkpoint (``--resume`` continues from it).
            resume: Continue from ``run_dir``'s checkpoint.
            progress: Show a progress bar.

        Raises:
            DataSourceError: no training samples, or an unknown modality or target column.
            ConfigError: invalid options, or a warm start that does not match exactly.
        """
        from seedlens.training import TrainConfig, seed_everything, train

        config = self.config
        train_data, val_data = data.split("train"), data.split("val")
        if not train_data.samples:
            raise DataSourceError(f"{data.source}: no sample has split 'train'")
        data.check_columns(config.targets, "target")
        names = list(config.modalities) if config.modalities is not None else [
            c for c in data.kinds if c not in config.targets]
        data.check_columns(names, "modality")
        overlap = sorted(set(names) & set(config.targets))
        if overlap:
            raise ConfigError(f"column(s) {', '.join(overlap)} cannot be both an input modality and a target")
        if not names:
            raise DataSourceError(f"{data.source}: no input column left besides the targets")
        data.check_columns(list(config.warm_start or {}), "warm_start modality")
        for option in ("warm_start", "encoders", "sizes"):
            outside = sorted(set(getattr(config, option) or {}) - set(names))
            if outside:
                raise ConfigError(f"{option} names {', '.join(outside)}, not among the input modalities "
                                  f"({', '.join(names)})")
        warm = {name: detector_encoder(run) for name, run in (config.warm_start or {}).items()}
        specs = []
        encoders: dict[str, dict[str, Any]] = {}
        for name in names:
            if name in warm:
                options, _, detector = warm[name]
                specs.append(_spec_from_detector(name, data.kinds[name], detector))
                encoders[name] = options
            else:
                spec = fit_modality(train_data, name, (config.sizes or {}).get(name))
                specs.append(spec)
                encoders[name] = encoder_options(config, spec)
        targets = [fit_target(train_data, name) for name in config.targets]
        self.modalities_, self.targets_, self.encoder_options_ = specs, targets, encoders
        self.encoder_ = Encoder(specs, targets)

        seed_everything(config.seed)
        network = build_network(config, specs, targets, encoders)
        for name, (_, weights, _) in warm.items():
            load_backbone_exactly(network.encoders[name], weights, name, config.warm_start[name])  # type: ignore[index, arg-type]
        dataset = _TensorDataset(self.encoder_, train_data)
        val_set = _TensorDataset(self.encoder_, val_data) if val_data.samples and config.select_best else None
        if val_set is not None and not _has_targets(val_set):
            log.warning("the val split has no target values: the last epoch is kept")
            val_set = None
        weights_per_target = {t.name: _class_weights(dataset.targets[t.name], t, config.class_weights)
                              for t in targets if t.task == "classification"}
        step = _Step(targets, weights_per_target, config.augment, specs)
        best: dict[str, Any] = {"loss": float("inf"), "state": None, "epoch": 0}
        self.val_losses_: list[float] = []

        def on_epoch_end(epoch: int, mean_loss: float) -> None:
            if val_set is None:
                return
            loss = _evaluate_loss(network, step, val_set)
            self.val_losses_.append(loss)
            if loss < best["loss"]:
                best.update(loss=loss, state=copy.deepcopy(network.state_dict()), epoch=epoch)

        train_config = TrainConfig(epochs=config.epochs, batch_size=config.batch_size, optimizer="adamw",
                                   lr=config.lr, weight_decay=config.weight_decay, lr_decay=config.lr_decay,
                                   amp=config.amp, device=config.device, seed=config.seed, grad_clip=5.0)
        self.history_: list[float] = []
        if config.epochs > 0:  # epochs=0 keeps the initial (or warm-started) weights
            result = train(network, step, dataset, train_config, run_dir=run_dir, resume=resume, progress=progress,
                           on_epoch_end=on_epoch_end)
            self.history_ = list(result.losses)
        if best["state"] is not None:
            network.load_state_dict(best["state"])
        self.best_epoch_ = int(best["epoch"]) or config.epochs
        self.network_ = network.eval()
        return self

    # ------------------------------------------------------------------ inference
    @property
    def modality_names(self) -> list[str]:
        """Input modalities in the order of the presence mask."""
        self._check_fitted()
        return [m.name for m in self.modalities_]

    def predict(self, data: FusionData, modalities: list[str] | None = None) -> dict[str, dict[str, Any]]:
        """Predict every target for every sample of ``data``.

        Args:
            data: Samples (any split).
            modalities: Use only these modalities (the others are masked as missing); None uses all.

        Returns:
            ``{target: {...}}``: for a classification target ``probabilities`` ``(N, K)``, ``labels`` (the
            predicted class names) and ``classes``; for a regression target ``values`` ``(N,)`` in the
            column's units. Also ``{"sample_id": [...]}`` under the key ``"_samples"``.
        """
        self._check_fitted()
        inputs, present = self.encoder_.encode_inputs(data)
        return self.predict_encoded(data, inputs, present, modalities)

    def predict_encoded(self, data: FusionData, inputs: dict[str, torch.Tensor], present: torch.Tensor,
                        modalities: list[str] | None = None,
                        embeddings: torch.Tensor | None = None) -> dict[str, dict[str, Any]]:
        """:meth:`predict` on inputs already encoded by ``self.encoder_.encode_inputs(data)``.

        Encoding once and predicting per modality subset saves reading and resizing every input again; passing
        the ``embeddings`` of :meth:`embed` (computed once with every modality present) also saves running the
        modality encoders again for each subset.
        """
        present = self._restrict(present, modalities)
        outputs = self.forward(inputs, present, embeddings)
        result: dict[str, dict[str, Any]] = {"_samples": {"sample_id": [s.sample_id for s in data.samples]}}
        for target in self.targets_:
            out = outputs[target.name]
            if target.task == "classification":
                labels = [target.classes[k] for k in out.argmax(axis=1)]
                result[target.name] = {"probabilities": out, "labels": labels, "classes": list(target.classes)}
            else:
                result[target.name] = {"values": out}
        return result

    def embed(self, inputs: dict[str, torch.Tensor], present: torch.Tensor) -> torch.Tensor:
        """The modality embeddings ``(N, M, dim)`` of encoded inputs (zero where ``present`` ``(N, M)`` is False)."""
        self._check_fitted()
        device = next(self.network_.parameters()).device
        parts = []
        with torch.no_grad():
            for start in range(0, present.shape[0], INFER_BATCH):
                rows = slice(start, start + INFER_BATCH)
                batch = {k: v[rows].to(device) for k, v in inputs.items()}
                parts.append(self.network_.embed(batch, present[rows].bool().to(device)))
        return torch.cat(parts) if parts else torch.zeros((0, len(self.modality_names), self.network_.dim))

    def forward(self, inputs: dict[str, torch.Tensor], present: torch.Tensor,
                embeddings: torch.Tensor | None = None) -> dict[str, np.ndarray]:
        """Run the network on encoded inputs: class probabilities ``(N, K)`` or trait values ``(N,)``.

        With ``embeddings`` ``(N, M, dim)`` from :meth:`embed` (of the same rows) the encoders are not run again.
        """
        self._check_fitted()
        device = next(self.network_.parameters()).device
        collected: dict[str, list[np.ndarray]] = {t.name: [] for t in self.targets_}
        n = present.shape[0]
        with torch.no_grad():
            for start in range(0, n, INFER_BATCH):
                rows = slice(start, start + INFER_BATCH)
                mask = present[rows].to(device)
                if embeddings is not None:
                    raw = self.network_.fuse(embeddings[rows].to(device), mask)
                else:
                    batch = {k: v[rows].to(device) for k, v in inputs.items()}
                    raw = self.network_(batch, mask)
                for target in self.targets_:
                    collected[target.name].append(self._decode(target, raw[target.name]).cpu().numpy())
        return {k: np.concatenate(v) if v else np.zeros((0,)) for k, v in collected.items()}

    def explain(self, data: FusionData, sample_id: str, target: str | None = None) -> FusionExplanation:
        """Explain one sample's prediction (see :mod:`seedlens.predictors.explain`).

        Returns exact Shapley contributions per modality and per target, and an input-resolution heatmap per
        image-like modality.
        """
        from seedlens.predictors.explain import explain_sample

        self._check_fitted()
        return explain_sample(self, data, sample_id, target)

    def evaluate(self, data: FusionData) -> dict[str, Any]:
        """Metrics per target with all modalities and per modality subset.

        See :func:`seedlens.predictors.evaluate.evaluate` for the layout of the result.
        """
        from seedlens.predictors.evaluate import evaluate

        self._check_fitted()
        return evaluate(self, data)

    @staticmethod
    def _decode(target: TargetSpec, raw: torch.Tensor) -> torch.Tensor:
        if target.task == "classification":
            return torch.softmax(raw.float(), dim=1)
        return raw.float()[:, 0] * target.std + target.mean

    def _restrict(self, present: torch.Tensor, modalities: list[str] | None) -> torch.Tensor:
        if modalities is None:
            return present
        names = self.modality_names
        unknown = [m for m in modalities if m not in names]
        if unknown:
            raise ConfigError(f"unknown modality {unknown[0]!r}; this model uses: {', '.join(names)}")
        keep = torch.tensor([name in modalities for name in names], dtype=torch.bool)
        return present & keep

    def _check_fitted(self) -> None:
        if not hasattr(self, "network_"):
            raise NotFittedError("this FusionPredictor is not fitted: call fit() or FusionPredictor.load()")

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | Path) -> Path:
        """Write config, specs and weights into the folder ``path``; :meth:`load` needs nothing else."""
        self._check_fitted()
        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        save_yaml({"predictor": "fusion", "config": to_dict(self.config)}, folder / CONFIG_FILE)
        buffer = _torch_bytes({k: v.cpu() for k, v in self.network_.state_dict().items()})
        atomic_write_bytes(folder / WEIGHTS_FILE, buffer)
        state = {
            "modalities": [m.to_dict() for m in self.modalities_],
            "targets": [t.to_dict() for t in self.targets_],
            "encoders": self.encoder_options_,
            "history": self.history_,
            "val_losses": self.val_losses_,
            "best_epoch": self.best_epoch_,
        }
        atomic_write_bytes(folder / STATE_FILE, json.dumps(state, indent=2).encode())
        return folder

    @classmethod
    def load(cls, path: str | Path, device: str = "auto") -> FusionPredictor:
        """Rebuild a fitted predictor from a folder written by :meth:`save`.

        Raises:
            ReadError: a file is missing (the message names it) or the folder holds something else.
        """
        from seedlens.training import select_device

        folder = Path(path)
        for name in (CONFIG_FILE, STATE_FILE, WEIGHTS_FILE):
            if not (folder / name).is_file():
                raise ReadError(folder / name, "missing: not a saved seedlens fusion model folder")
        header = load_yaml(folder / CONFIG_FILE)
        if header.get("predictor") != "fusion":
            raise ReadError(folder / CONFIG_FILE, f"holds {header.get('predictor')!r}, not a fusion model")
        model = cls(**header["config"])
        state = json.loads((folder / STATE_FILE).read_text())
        model.modalities_ = [ModalitySpec(**m) for m in state["modalities"]]
        model.targets_ = [TargetSpec(**t) for t in state["targets"]]
        model.encoder_options_ = state["encoders"]
        model.encoder_ = Encoder(model.modalities_, model.targets_)
        model.history_ = list(state.get("history", []))
        model.val_losses_ = list(state.get("val_losses", []))
        model.best_epoch_ = int(state.get("best_epoch", 0))
        network = build_network(model.config, model.modalities_, model.targets_, model.encoder_options_)
        weights = torch.load(folder / WEIGHTS_FILE, map_location="cpu", weights_only=True)
        network.load_state_dict(weights, strict=True)
        model.network_ = network.to(select_device(device)).eval()
        return model


def _spec_from_detector(name: str, kind: Modality, detector: Any) -> ModalitySpec:
    if detector.modality_ is not kind:
        raise ConfigError(f"warm_start for {name!r}: the detector was trained on {detector.modality_.value} "
                          f"inputs but {name!r} is a {kind.value}")
    preprocessor = detector.preprocessor_.to_dict()
    if preprocessor.get("size") is None:  # a native-resolution detector: fusion fits whole samples into its patch
        preprocessor["size"] = list(detector.input_size_)
    return ModalitySpec(name, kind.value, int(detector.in_channels_), list(detector.input_size_), preprocessor)


def _has_targets(data: _TensorDataset) -> bool:
    return any(bool((v >= 0).any()) if v.dtype == torch.long else bool((~torch.isnan(v)).any())
               for v in data.targets.values())


def _class_weights(labels: torch.Tensor, target: TargetSpec, mode: str) -> torch.Tensor:
    k = len(target.classes)
    if mode == "none":
        return torch.ones(k)
    valid = labels[labels >= 0]
    counts = torch.bincount(valid, minlength=k).float()
    weights = valid.numel() / (k * counts.clamp(min=1.0))
    return weights.where(counts > 0, torch.zeros_like(weights))


class _TensorDataset(torch.utils.data.Dataset[dict[str, torch.Tensor]]):
    """Encoded samples as dicts ``{"x:<modality>", "present", "y:<target>"}`` for the training loop."""

    def __init__(self, encoder: Encoder, data: FusionData) -> None:
        self.inputs, self.present = encoder.encode_inputs(data)
        self.targets = encoder.encode_targets(data)

    def __len__(self) -> int:
        return int(self.present.shape[0])

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        item = {f"x:{k}": v[index] for k, v in self.inputs.items()}
        item.update({f"y:{k}": v[index] for k, v in self.targets.items()})
        item["present"] = self.present[index]
        return item


class _Step:
    """One training step: random flips of image-like inputs, then the summed loss of every target."""

    def __init__(self, targets: list[TargetSpec], class_weights: dict[str, torch.Tensor], augment: bool,
                 modalities: list[ModalitySpec]) -> None:
        self.targets = targets
        self.class_weights = class_weights
        self.augment = augment
        self.spatial = {m.name: m.modality.spatial_dims for m in modalities if m.modality is not Modality.TABLE}

    def __call__(self, model: nn.Module, batch: dict[str, torch.Tensor], generator: torch.Generator) -> torch.Tensor:
        inputs = {k[2:]: v for k, v in batch.items() if k.startswith("x:")}
        if self.augment and model.training:
            inputs = {k: _flip(v, self.spatial[k], generator) if k in self.spatial else v for k, v in inputs.items()}
        outputs = model(inputs, batch["present"])
        return self.loss(outputs, batch)

    def loss(self, outputs: dict[str, torch.Tensor], batch: dict[str, torch.Tensor]) -> torch.Tensor:
        total = 0.0 * torch.stack([out.float().sum() for out in outputs.values()]).sum()  # differentiable, always
        for target in self.targets:
            out, y = outputs[target.name].float(), batch[f"y:{target.name}"]
            if target.task == "classification":
                valid = y >= 0
                if valid.any():
                    weight = self.class_weights[target.name].to(out.device)
                    total = total + nn.functional.cross_entropy(out[valid], y[valid], weight=weight)
            else:
                valid = ~torch.isnan(y)
                if valid.any():
                    total = total + nn.functional.mse_loss(out[valid, 0], y[valid])
        return total


def _flip(x: torch.Tensor, spatial_dims: int, generator: torch.Generator) -> torch.Tensor:
    """Flip each sample along each spatial axis with probability 0.5."""
    n = x.shape[0]
    for axis in range(2, 2 + spatial_dims):
        flip = torch.rand(n, generator=generator, device=generator.device) < 0.5
        shape = (n,) + (1,) * (x.ndim - 1)
        x = torch.where(flip.to(x.device).view(shape), x.flip(axis), x)
    return x


def _evaluate_loss(network: FusionNet, step: _Step, data: _TensorDataset) -> float:
    was_training = network.training
    network.eval()
    device = next(network.parameters()).device
    total, n = 0.0, len(data)
    with torch.no_grad():
        for start in range(0, n, INFER_BATCH):
            rows = slice(start, start + INFER_BATCH)
            batch = {f"x:{k}": v[rows].to(device) for k, v in data.inputs.items()}
            batch.update({f"y:{k}": v[rows].to(device) for k, v in data.targets.items()})
            batch["present"] = data.present[rows].to(device)
            inputs = {k[2:]: v for k, v in batch.items() if k.startswith("x:")}
            loss = step.loss(network(inputs, batch["present"]), batch)
            total += float(loss) * (min(n, start + INFER_BATCH) - start)
    network.train(was_training)
    return total / max(n, 1)


def _torch_bytes(obj: Any) -> bytes:
    import io

    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


__all__ = ["FusionPredictor"]
