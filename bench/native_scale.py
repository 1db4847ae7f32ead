"""Scoring and explaining one large volume at native resolution: peak memory and seconds, beside MONAI.

A 3D FCDD (library defaults: ``fcdd3d`` at full width) is trained for one short epoch on 64³ synthetic grain
phantoms; then ``seedlens score`` and ``seedlens explain`` run, each in a fresh process, on one synthetic
``SIZE``³ float32 volume (512³ = 512 MB, an uncompressed NIfTI read as a memory map) holding a lattice of grains.
Each process reports its peak resident memory (``ru_maxrss``) and wall time. The issue's target: ≤ 4 GB on CPU.

Peer, side by side on the same preprocessed volume and the same network: MONAI's ``sliding_window_inference``
(``pip install monai``; not a seedlens dependency) with the same window, stitching the network's cell-resolution
map with its own overlap blending, then the same upsampler. Recorded: its time and peak memory, and how far its
map is from seedlens's exact stitching (seedlens equals one pass over the whole volume; MONAI averages border
cells of overlapping windows, which see the network's zero padding).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

DEFAULT_EPOCHS = 1


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--size", type=int, default=512, help="side of the large volume")
    parser.add_argument("--no-peer", action="store_true", help="skip MONAI")


def _lattice(size: int, seed: int = 0) -> np.ndarray:
    """A ``(size,)*3`` float32 volume: ellipsoid grains (density 1, with a denser coat) on air (0), noisy."""
    rng = np.random.default_rng(seed)
    volume = np.zeros((size, size, size), np.float32)
    pitch = 64
    axes = np.arange(pitch, dtype=np.float32) - pitch / 2 + 0.5
    d, h, w = np.meshgrid(axes, axes, axes, indexing="ij")
    for z in range(0, size - pitch + 1, pitch):
        for y in range(0, size - pitch + 1, pitch):
            for x in range(0, size - pitch + 1, pitch):
                radii = rng.uniform(16, 26, 3)
                r = np.sqrt((d / radii[0]) ** 2 + (h / radii[1]) ** 2 + (w / radii[2]) ** 2)
                grain = np.where(r <= 1, np.where(r > 0.85, 1.3, 1.0), 0.0).astype(np.float32)
                volume[z : z + pitch, y : y + pitch, x : x + pitch] = grain
    volume += rng.normal(0, 0.05, volume.shape).astype(np.float32)
    return volume


def _measured(command: list[str]) -> dict[str, Any]:
    """Run a command in a fresh Python process; return its wall time and peak resident memory."""
    wrapper = ("import resource, runpy, sys, time\n"
               "sys.argv = sys.argv[1:]\n"
               "t = time.perf_counter()\n"
               "try:\n"
               "    runpy.run_module(sys.argv[0], run_name='__main__', alter_sys=True)\n"
               "except SystemExit as e:\n"
               "    code = e.code\n"
               "else:\n"
               "    code = 0\n"
               "print('MEASURED', time.perf_counter() - t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,"
               " code, file=sys.stderr)\n")
    done = subprocess.run([sys.executable, "-c", wrapper, *command], capture_output=True, text=True)
    line = [x for x in done.stderr.splitlines() if x.startswith("MEASURED")]
    if not line:
        raise RuntimeError(f"{command} failed:\n{done.stderr[-3000:]}")
    _, seconds, rss_kb, code = line[-1].split()
    if code not in ("0", "None"):
        raise RuntimeError(f"{command} exited {code}:\n{done.stderr[-3000:]}")
    return {"seconds": round(float(seconds), 1), "peak_rss_gb": round(int(rss_kb) / 2**20, 3),
            "stdout_tail": done.stdout[-300:]}


def _peer(run: Path, scan: Path, out: Path) -> dict[str, Any]:
    """MONAI's sliding window over the same preprocessed volume and network, in a fresh process."""
    script = f"""
import json, resource, time, numpy as np, torch
from monai.inferers import sliding_window_inference
from seedlens.detectors import load_detector
from seedlens.inference.sliding_window import stitch_cells
from seedlens.io import read
detector = load_detector({str(run)!r}, device="cpu")
module = detector.scoring_module()
array, meta = read({str(scan)!r})
x = torch.from_numpy(detector.preprocessor_(array, meta.spacing))[None]
del array
window = detector.window_size_
with torch.no_grad():
    t = time.perf_counter()
    cells = sliding_window_inference(x, window, 1, module.anomaly_map, overlap=0.25, mode="gaussian")
    monai_s = time.perf_counter() - t
    peak_monai = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t = time.perf_counter()
    exact = stitch_cells(x, module.anomaly_map, window, module.layout)
    seedlens_s = time.perf_counter() - t
diff = (cells - exact).abs()
json.dump({{"monai_stitch_s": monai_s, "seedlens_stitch_s": seedlens_s, "monai_peak_rss_gb": peak_monai / 2**20,
           "max_abs_difference": float(diff.max()), "mean_abs_difference": float(diff.mean()),
           "map_mean": float(exact.mean()), "cells": list(exact.shape[2:]),
           "monai_overlap": 0.25, "monai_mode": "gaussian", "window": list(window)}}, open({str(out)!r}, "w"))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    if done.returncode != 0:
        return {"error": done.stderr[-1500:]}
    result: dict[str, Any] = json.loads(out.read_text())
    import monai

    result["monai_version"] = monai.__version__
    return result


def run(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, Any]]:
    from seedlens.data.synthetic import write_seed_dataset
    from seedlens.io import write_nifti

    settings = {"size": args.size, "epochs": args.epochs, "device": args.device, "detector": "fcdd (defaults)",
                "training": "6 synthetic 64³ phantoms, patches 32³", "volume": "float32 uncompressed NIfTI"}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        manifest = write_seed_dataset(root / "data", modality="volume", n_train=6, n_val_normal=2,
                                      n_val_anomalous=0, n_test_normal=0, n_test_anomalous=0, size=64, seed=0)
        run_dir = root / "run"
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "seedlens", "train", str(manifest), "--out", str(run_dir),
                        "--detector", "fcdd", "--epochs", str(args.epochs), "--patch-size", "32",
                        "--device", args.device, "--no-progress"], check=True, capture_output=True, text=True)
        train_s = time.perf_counter() - started
        scan = root / "big.nii"
        volume = _lattice(args.size)
        write_nifti(scan, volume, spacing=(2.6 / 64,) * 3)  # the phantoms' voxel size: scored without resampling
        del volume
        score = _measured(["seedlens", "score", str(run_dir), str(scan), "--json", "--device", args.device])
        explain = _measured(["seedlens", "explain", str(run_dir), str(scan), "--out", str(root / "maps"),
                             "--device", args.device])
        written = sorted(p.name for p in (root / "maps").iterdir())
        state = json.loads((run_dir / "state.json").read_text())
        results: dict[str, Any] = {
            "train_s": round(train_s, 1),
            "score": score,
            "explain": explain,
            "explain_wrote": written,
            "window_size": state["window_size"],
            "patch_size": state["input_size"],
            "target_gb": 4.0,
            "target_met": max(score["peak_rss_gb"], explain["peak_rss_gb"]) <= 4.0,
        }
        if not args.no_peer:
            results["peer"] = _peer(run_dir, scan, root / "peer.json")
    return settings, results


def markdown(result: dict[str, Any]) -> str:
    r, s = result["results"], result["settings"]
    met = "met" if r["target_met"] else "**missed**"
    lines = [
        f"One {s['size']}³ float32 volume ({s['size'] ** 3 * 4 / 2**30:.2f} GB) scored and explained whole by "
        f"`seedlens score` / `seedlens explain` (fcdd3d defaults, window {'×'.join(map(str, r['window_size']))}, "
        f"each command a fresh process; the detector is trained for {s['epochs']} pass on {s['training']}: this "
        "measures memory and time, not quality).",
        "",
        "| command | seconds | peak RSS | target ≤ 4 GB |",
        "|---|---|---|---|",
        f"| score | {r['score']['seconds']:.0f} | {r['score']['peak_rss_gb']:.2f} GB | {met} |",
        f"| explain (tri-planar PNG + NIfTI heatmap) | {r['explain']['seconds']:.0f} | "
        f"{r['explain']['peak_rss_gb']:.2f} GB | {met} |",
    ]
    peer = r.get("peer")
    if peer and "error" not in peer:
        ratio = peer["monai_stitch_s"] / peer["seedlens_stitch_s"]
        lines += [
            "",
            f"Peer, same volume, network and window, back to back: MONAI {peer['monai_version']} "
            f"`sliding_window_inference` (overlap {peer['monai_overlap']}, {peer['monai_mode']} blending) "
            f"{peer['monai_stitch_s']:.0f} s vs seedlens's exact cell stitching {peer['seedlens_stitch_s']:.0f} s "
            f"(MONAI / seedlens = {ratio:.2f}); MONAI's map differs from the one-pass map by up to "
            f"{peer['max_abs_difference']:.3g} (mean {peer['mean_abs_difference']:.3g}, map mean "
            f"{peer['map_mean']:.3g}): its blended border cells saw zero padding.",
        ]
    elif peer:
        lines += ["", f"Peer run failed: `{peer['error'][-200:]}`"]
    return "\n".join(lines)
