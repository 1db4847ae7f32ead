"""The fusion demo: synthetic multi-modal seeds → SQLite hub → fused model → held-out evaluation → explanation.

Seeds are generated with :func:`~seedlens.data.synthetic.multimodal.write_multimodal_dataset` (CT volume,
hyperspectral cube, RGB photo, weight and lot per seed; germination and traits from a hidden state, with a
cross-modal interaction only a fused model can learn), stored in an embedded SQLite hub, and read back from it
for training. The held-out test set is generated with another seed. The demo reports the fused model's metrics
per target and per modality subset and explains one test seed: Shapley contributions of each modality and a
heatmap per image-like input.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class FusionDemoSettings:
    """Sizes of one fusion demo run."""

    n_train: int = 480
    n_val: int = 120
    n_test: int = 240
    epochs: int = 60

    @classmethod
    def for_mode(cls, quick: bool) -> FusionDemoSettings:
        """Return the settings of the full fusion demo or of ``--quick``."""
        return cls(n_train=64, n_val=24, n_test=40, epochs=6) if quick else cls()


@dataclass
class FusionDemoResult:
    """What the fusion demo produced."""

    metrics: dict[str, Any]
    explanation_path: Path
    explained_sample: str
    run_dir: Path
    seconds: float


def run_fusion_demo(out: str | Path, quick: bool = False, device: str = "auto", seed: int = 0,
                    log: Callable[[str], None] = print) -> FusionDemoResult:
    """Run the fusion demo into ``out`` (``data/``, ``hub/``, ``run/``, ``explanation/``).

    Args:
        out: Output folder.
        quick: The smaller ``--quick`` run.
        device: Training device.
        seed: Seed of the training data and of training (the test set uses ``seed + 1``).
        log: Where progress lines go.
    """
    from seedlens.config import atomic_write_bytes
    from seedlens.data.synthetic.multimodal import write_multimodal_dataset
    from seedlens.hub.local import LocalHub
    from seedlens.predictors import FusionPredictor, from_hub, read_manifest, to_hub
    from seedlens.predictors.render import to_jsonable, write_explanation

    start = time.perf_counter()
    settings = FusionDemoSettings.for_mode(quick)
    out = Path(out)
    log(f"making {settings.n_train + settings.n_val} + {settings.n_test} multi-modal seeds (CT, hyperspectral, "
        f"RGB, weight, lot) in {out / 'data'}")
    train_csv = write_multimodal_dataset(out / "data" / "train", n_train=settings.n_train, n_val=settings.n_val,
                                         n_test=0, seed=seed)
    test_csv = write_multimodal_dataset(out / "data" / "test", n_train=0, n_val=0, n_test=settings.n_test,
                                        seed=seed + 1)
    hub_dir = out / "hub"
    log(f"storing them in an embedded SQLite hub at {hub_dir}")
    hub = LocalHub.create(hub_dir)
    try:
        to_hub(read_manifest(train_csv), hub, project="fusion-demo")
        data = from_hub(hub, project="fusion-demo", cache_dir=out / "cache")
    finally:
        hub.close()
    modalities = ("volume", "cube", "image", "weight", "lot")
    model = FusionPredictor(targets=("germination", "oil_content"), modalities=modalities, epochs=settings.epochs,
                            device=device, seed=seed)
    log(f"training a fused model (attention over 5 modality tokens) for {settings.epochs} epochs")
    run_dir = out / "run"
    model.fit(data, run_dir=run_dir)
    model.save(run_dir)
    test = _as_hub_names(read_manifest(test_csv)).split("test")
    log("evaluating on held-out seeds (another generator seed)")
    metrics = model.evaluate(test)
    atomic_write_bytes(run_dir / "metrics.json", json.dumps(to_jsonable(metrics), indent=2).encode())
    sample_id = _interesting_sample(model, test)
    explanation = model.explain(test, sample_id)
    kinds = {m.name: m.kind for m in model.modalities_}
    written = write_explanation(explanation, test, out / "explanation", kinds)
    overview = next(p for p in written if p.name == "explanation.png")
    return FusionDemoResult(metrics, overview, sample_id, run_dir, time.perf_counter() - start)


def _as_hub_names(data: Any) -> Any:
    """Name the manifest's path columns like a hub does (by kind), so the hub-trained model reads them."""
    from seedlens.predictors import FusionData

    rename = {name: data.kinds[name].value for name in data.image_like}
    for sample in data.samples:
        sample.files = {rename[k]: v for k, v in sample.files.items()}
    kinds = {rename.get(k, k): v for k, v in data.kinds.items()}
    return FusionData(data.samples, kinds, data.numeric, data.source)


def _interesting_sample(model: Any, test: Any) -> str:
    """A test seed predicted dead with confidence, preferring one whose CT looks intact (the interaction)."""
    inputs, present = model.encoder_.encode_inputs(test)
    embeddings = model.embed(inputs, present)
    prediction = model.predict_encoded(test, inputs, present, embeddings=embeddings)["germination"]
    classes = prediction["classes"]
    probabilities = prediction["probabilities"]
    dead = classes.index("dead") if "dead" in classes else int(probabilities.mean(axis=0).argmax())
    order = probabilities[:, dead].argsort()[::-1]
    others = [m for m in model.modality_names if m != "volume"]
    without_ct = model.predict_encoded(test, inputs, present, others, embeddings=embeddings)["germination"]
    for index in order[:40]:
        if without_ct["probabilities"][index, dead] > 0.5:  # dead even without the CT: cube × RGB interaction
            return str(test.samples[int(index)].sample_id)
    return str(test.samples[int(order[0])].sample_id)
