"""Lung CT (COVID-19 vs non-COVID): the one-class protocol of ``shared/data/README.md``.

Train on ``noncovid`` training slices only (plus confetti noise: never COVID scans), threshold from normal
``val`` slices, ROC AUC of COVID vs non-COVID on ``test``, per subset and pooled. The Soares subset is split by image,
not by patient (slices of one patient can sit in two splits), so its number is optimistic; UCSD is split by patient.
Runs the library with its defaults unless options are given: the same path as
``seedlens train manifest.csv --normal-class noncovid``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

DEFAULT_EPOCHS = 30
ANCHOR = 0.90


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--manifest", default=None, help="default: DATA_ROOT/covid-ct/manifest.csv")
    parser.add_argument("--image-size", type=int, default=None)
    parser.add_argument("--backbone", default="auto")


def run(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, Any]]:
    from seedlens.data import open_source
    from seedlens.data.loading import load_record
    from seedlens.detectors import FCDD
    from seedlens.evaluation import image_auroc

    manifest = Path(args.manifest or Path(args.data_root) / "covid-ct" / "manifest.csv")
    source = open_source(manifest, normal_class="noncovid")
    results: dict[str, Any] = {"per_seed": []}
    for seed in range(args.seeds):
        detector = FCDD(
            epochs=args.epochs, device=args.device, seed=seed, backbone=args.backbone, image_size=args.image_size
        )
        detector.fit(source, progress=False)
        test = source.records("test")
        scores = detector.score([load_record(r).array for r in test])
        labels = np.array([int(r.is_anomalous) for r in test])
        subsets = np.array([r.meta.get("subset", "") for r in test])
        row = {"seed": seed, "pooled": image_auroc(labels, scores)}
        for subset in sorted(set(subsets)):
            keep = subsets == subset
            row[str(subset)] = image_auroc(labels[keep], scores[keep])
        print(row, flush=True)
        results["per_seed"].append(row)
        _save_partial(args, results)
    for key in results["per_seed"][0]:
        if key != "seed":
            results[f"mean_{key}"] = float(np.mean([r[key] for r in results["per_seed"]]))
    settings = {
        "detector": "fcdd",
        "epochs": args.epochs,
        "seeds": args.seeds,
        "backbone": args.backbone,
        "image_size": args.image_size,
        "device": args.device,
        "configurations_tried": 1,
        "other_options": "library defaults",
    }
    return settings, results


def _save_partial(args: argparse.Namespace, results: dict[str, Any]) -> None:
    """Keep finished seeds, so a run stopped by a time limit still leaves them behind."""
    import json

    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    name = "lung_ct" + (f"-{args.tag}" if args.tag else "")
    (out / f"{name}.partial.json").write_text(json.dumps(results, indent=2))


def markdown(result: dict[str, Any]) -> str:
    r, s = result["results"], result["settings"]
    return "\n".join(
        [
            "| UCSD (split by patient) | Soares (image-level split: optimistic) | pooled | anchor |",
            "|---|---|---|---|",
            f"| {r.get('mean_ucsd', float('nan')):.3f} | {r.get('mean_soares', float('nan')):.3f} | "
            f"{r['mean_pooled']:.3f} | ≈ {ANCHOR:.2f} (FCDD, project description) |",
            "",
            f"Settings: library defaults, {s['epochs']} epochs × {s['seeds']} seed(s), backbone {s['backbone']}, "
            f"image size {s['image_size'] or 'default'}, device {s['device']}.",
        ]
    )
