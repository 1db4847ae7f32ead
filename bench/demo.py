"""The full `seedlens demo`, with its quality floors checked (sample AUROC ≥ 0.90, in-seed voxel AUROC ≥ 0.85)."""

from __future__ import annotations

import argparse
import tempfile
from typing import Any


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quick", action="store_true")


def run(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, Any]]:
    from seedlens.workflows.demo import FLOORS, DemoSettings, run_demo

    with tempfile.TemporaryDirectory() as tmp:
        result = run_demo(tmp, quick=args.quick, device=args.device, log=lambda line: print(line, flush=True))
    settings = {"quick": args.quick, "device": args.device, **vars(DemoSettings.for_mode(args.quick))}
    metrics = result.metrics.to_dict()
    results = {"metrics": metrics, "seconds": result.seconds, "floors": FLOORS, "floors_met": result.floors_met}
    return settings, results


def markdown(result: dict[str, Any]) -> str:
    r = result["results"]
    m = r["metrics"]
    met = "met" if r["floors_met"] else "**missed**"
    return "\n".join(
        [
            "| sample AUROC | voxel AUROC in seed | voxel AUROC (all) | AUPRO | F1 @ threshold | wall time | floors |",
            "|---|---|---|---|---|---|---|",
            f"| {m['image_auroc']:.3f} | {m['pixel_auroc_in_mask']:.3f} | {m['pixel_auroc']:.3f} | {m['aupro']:.3f} | "
            f"{m['f1']:.3f} | {r['seconds']:.0f} s | {met} (≥ 0.90 / ≥ 0.85) |",
        ]
    )
