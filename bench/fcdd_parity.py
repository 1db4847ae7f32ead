"""FCDD parity with the reference implementation on the reference's own Fashion-MNIST protocol, side by side.

seedlens runs with the reference's settings (../shared/PEERS.md): its 28×28 network, batch 128, SGD Nesterov
(momentum 0.9), lr 0.01, weight decay 1e-6, ×0.98 per epoch; Gaussian-noise images as the anomalies
(``anomalies="noise"``, σ = 64/255, clamped, then the same contrast normalisation as a normal image); its
preprocessing: per-sample L1 contrast normalisation then min-max with constants fitted on the class's training
images (``intensity="contrast"``, seedlens's default for images), random shifts of up to 2 px with the border
filled (``augment_shift=2``, its random crop with padding 2) and horizontal flips (``augment_flips="last"``). All
6,000 training images of the class but 1 % held out for seedlens's threshold (which AUROC does not use). AUROC:
the class's 1,000 test images are normal, the other 9,000 anomalous.

With ``--peer DIR`` the reference itself runs the same classes, as many times as seedlens has seeds (it sets no
seed: its runs differ, so the spread over runs is reported), in the same benchmark.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np

DEFAULT_EPOCHS = 3

#: The reference protocol as seedlens options.
REFERENCE_OPTIONS: dict[str, Any] = {
    "backbone": "fcdd28", "image_size": 28, "batch_size": 128, "optimizer": "sgd", "lr": 0.01,
    "weight_decay": 1e-6, "lr_decay": 0.98, "anomalies": "noise", "intensity": "contrast", "augment": True,
    "augment_flips": "last", "augment_shift": 2, "p_anomaly": 0.5, "val_fraction": 0.01,
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--classes", default="0-9", help="class indices, e.g. 0-9 or 0,3,7")
    parser.add_argument("--peer", default=None, help="folder with the FCDD reference set up (run_one.py, venv/)")
    parser.add_argument("--no-seedlens", action="store_true", help="only the reference (to add its runs later)")


def run(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, Any]]:
    from bench._onevsrest import parse_classes
    from bench._peer import run_reference
    from bench.fashion_mnist import CLASSES
    from seedlens.detectors import FCDD
    from seedlens.evaluation import image_auroc

    epochs = args.epochs or DEFAULT_EPOCHS
    data = np.load(Path(args.data_root) / "fashion-mnist" / "fashion_mnist.npz")
    x_train, y_train = data["x_train"][:, None] / np.float32(255), data["y_train"]
    x_test, y_test = data["x_test"][:, None] / np.float32(255), data["y_test"]
    classes = parse_classes(args.classes)
    seedlens: dict[str, list[float]] = {}
    reference: dict[str, list[float]] = {}
    runs: list[dict[str, Any]] = []
    for c in classes:
        name = CLASSES[c]
        labels = (y_test != c).astype(int)
        for seed in range(args.seeds):
            if not args.no_seedlens:
                started = time.perf_counter()
                detector = FCDD(epochs=epochs, seed=seed, device=args.device, **REFERENCE_OPTIONS)
                detector.fit(x_train[y_train == c].astype(np.float32), progress=False)
                auroc = image_auroc(labels, detector.score(x_test.astype(np.float32)))
                seedlens.setdefault(name, []).append(auroc)
                runs.append({"who": "seedlens", "class": c, "seed": seed, "auroc": auroc,
                             "train_images_per_s": detector.training_stats_["samples_per_s"],
                             "wall_s": time.perf_counter() - started})
                print(f"seedlens {name} seed {seed}: {auroc:.4f}", flush=True)
            if args.peer:
                peer = run_reference(Path(args.peer), c, epochs)
                runs.append({"who": "reference", "class": c, "run": seed, **peer})
                if "auroc" in peer:
                    reference.setdefault(name, []).append(float(peer["auroc"]))
                    print(f"reference {name} run {seed}: {peer['auroc']:.4f}", flush=True)
                else:
                    print(f"reference {name} run {seed}: {peer.get('error', '')[-300:]}", flush=True)

    def summary(per_class: dict[str, list[float]]) -> dict[str, Any]:
        means = {k: float(np.mean(v)) for k, v in per_class.items()}
        return {"per_class": per_class, "class_means": means,
                "mean": float(np.mean(list(means.values()))) if means else None,
                "run_std": {k: float(np.std(v)) for k, v in per_class.items()}}

    results: dict[str, Any] = {"seedlens": summary(seedlens), "reference": summary(reference), "runs": runs}
    both = sorted(set(seedlens) & set(reference))
    if both:
        results["classes_at_or_above_reference"] = [k for k in both
                                                    if np.mean(seedlens[k]) >= np.mean(reference[k])]
        results["mean_difference"] = float(np.mean([np.mean(seedlens[k]) - np.mean(reference[k]) for k in both]))
    settings = {"epochs": epochs, "classes": classes, "seeds": args.seeds, "device": args.device,
                "seedlens_options": REFERENCE_OPTIONS, "peer": args.peer}
    return settings, results


def markdown(result: dict[str, Any]) -> str:
    r = result["results"]
    s, ref = r["seedlens"], r["reference"]
    names = sorted(set(s["class_means"]) | set(ref["class_means"]))
    lines = ["| class | seedlens AUROC (mean ± sd over seeds) | reference (mean ± sd over runs) |", "|---|---|---|"]
    def cell(part: dict[str, Any], name: str) -> str:
        if name not in part["class_means"]:
            return "—"
        return f"{part['class_means'][name]:.4f} ± {part['run_std'][name]:.4f} (n={len(part['per_class'][name])})"

    for name in names:
        lines.append(f"| {name} | {cell(s, name)} | {cell(ref, name)} |")
    if s["mean"] is not None or ref["mean"] is not None:
        fmt = lambda v: f"{v:.4f}" if v is not None else "—"  # noqa: E731
        lines.append(f"| **mean** | {fmt(s['mean'])} | {fmt(ref['mean'])} |")
    return "\n".join(lines)
