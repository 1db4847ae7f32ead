"""The demo at native resolution: 64³ seed phantoms, patch training, floors on the mean of several data seeds.

The defects have the size they have in millimetres (twice the voxels per axis of the 32³ demo).

The full `seedlens demo` resizes nothing either (its phantoms are 32³ and the detector is fitted to 32³); here the
phantoms are made at ``--size`` (64 by default: the same seed and defects in millimetres, twice the voxels per axis),
the detector keeps that grid (``spacing: auto``: the phantoms' own voxel size) and trains on random
``--patch-size``³ patches drawn inside the seed, and test volumes are scored whole by the sliding window. Every other
option is the demo's (map supervision, half-width fcdd3d, test-time flips; ``heatmap_sigma`` scaled with the
resolution). The floors (sample AUROC ≥ 0.90, in-seed voxel AUROC ≥ 0.85) are checked on the mean over
``--seeds`` data seeds (0, 1, 2...), each a new draw of phantoms and of training.
"""

from __future__ import annotations

import argparse
import tempfile
from typing import Any

import numpy as np

DEFAULT_EPOCHS = 45


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--patch-size", type=int, default=32)


def run(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, Any]]:
    from dataclasses import asdict

    from seedlens.workflows.demo import FLOORS, DemoSettings, run_demo

    settings = DemoSettings(size=args.size, patch_size=args.patch_size, epochs=args.epochs)
    per_seed = []
    for seed in range(max(1, args.seeds)):
        with tempfile.TemporaryDirectory() as tmp:
            result = run_demo(tmp, device=args.device, seed=seed, settings=settings,
                              log=lambda line: print(line, flush=True))
        metrics = result.metrics.to_dict()
        per_seed.append({"seed": seed, "seconds": result.seconds, **{k: metrics[k] for k in (
            "image_auroc", "pixel_auroc_in_mask", "pixel_auroc", "aupro", "f1")}})
        print(f"seed {seed}: {per_seed[-1]}", flush=True)
    mean = {k: float(np.mean([s[k] for s in per_seed])) for k in ("image_auroc", "pixel_auroc_in_mask",
                                                                 "pixel_auroc", "aupro", "f1", "seconds")}
    met = all(mean[name] >= bound for name, bound in FLOORS.items())
    return ({"device": args.device, "seeds": args.seeds, **asdict(settings)},
            {"per_seed": per_seed, "mean": mean, "floors": FLOORS, "floors_met_on_mean": met})


def markdown(result: dict[str, Any]) -> str:
    r, s = result["results"], result["settings"]
    rows = [f"| {p['seed']} | {p['image_auroc']:.3f} | {p['pixel_auroc_in_mask']:.3f} | {p['aupro']:.3f} | "
            f"{p['seconds']:.0f} s |" for p in r["per_seed"]]
    m = r["mean"]
    met = "met" if r["floors_met_on_mean"] else "**missed**"
    return "\n".join([
        f"Phantoms at {s['size']}³, detector at their native grid, training on {s['patch_size']}³ patches inside "
        f"the seed, {s['epochs']} epochs of {s['n_train']} seeds; floors on the mean of {len(r['per_seed'])} data "
        "seeds.",
        "",
        "| data seed | sample AUROC | voxel AUROC in seed | AUPRO | wall time |",
        "|---|---|---|---|---|",
        *rows,
        f"| **mean** | **{m['image_auroc']:.3f}** | **{m['pixel_auroc_in_mask']:.3f}** | {m['aupro']:.3f} | "
        f"{m['seconds']:.0f} s |",
        "",
        f"Floors (≥ 0.90 / ≥ 0.85 on the mean): {met}.",
    ])
