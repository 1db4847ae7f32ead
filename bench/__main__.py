"""Benchmark harness.

``python -m bench run NAME [options]`` writes ``bench/results/NAME[-TAG].json`` and regenerates
``bench/RESULTS.md``; ``python -m bench table`` only regenerates the Markdown.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
from pathlib import Path

from bench._common import RESULTS_DIR, write_result

BENCHMARKS = {
    "demo": "bench.demo",
    "barley_ct": "bench.barley_ct",
    "barley_seeds": "bench.barley_seeds",
    "cifar10": "bench.cifar10",
    "ct_lesions": "bench.ct_lesions",
    "eoe": "bench.eoe",
    "fashion_mnist": "bench.fashion_mnist",
    "fcdd_parity": "bench.fcdd_parity",
    "fusion": "bench.fusion",
    "hsi_scenes": "bench.hsi_scenes",
    "lung_ct": "bench.lung_ct",
    "native_demo": "bench.native_demo",
    "native_scale": "bench.native_scale",
    "seed_photos": "bench.seed_photos",
    "speed": "bench.speed",
}
TITLES = {
    "demo": "Demo: 3D FCDD on synthetic seed CT phantoms",
    "barley_ct": "Real barley ear CT at native resolution: false alarms on normal ears, inserted voids",
    "barley_seeds": "Real barley ear CT, scan to seeds: grains per ear, then per-grain anomaly detection "
                    "(leave one ear out, inserted defects)",
    "cifar10": "CIFAR-10 one-vs-rest (mean AUROC over classes)",
    "ct_lesions": "Real 3D lesion scans, one-class voxel protocol (BraTS FLAIR, sarcoma CT)",
    "eoe": "Exposing Outlier Exposure: AUROC against the number of outlier images (Fashion-MNIST, grey CIFAR-10 OE)",
    "fashion_mnist": "Fashion-MNIST one-vs-rest (mean AUROC over classes)",
    "fcdd_parity": "FCDD beside the reference implementation on its own Fashion-MNIST protocol (Gaussian noise)",
    "hsi_scenes": "Hyperspectral anomaly scenes (transductive pixel AUROC)",
    "fusion": "Multi-modal fusion: germination from CT + hyperspectral + RGB + table (synthetic seeds)",
    "lung_ct": "Lung CT, COVID-19 vs non-COVID, trained on non-COVID only (test AUROC)",
    "native_demo": "Demo at native resolution: 64³ seed phantoms, patch training, mean of 3 data seeds",
    "native_scale": "A large volume scored and explained whole at native resolution (CPU memory and time)",
    "seed_photos": "Seed photos: one-vs-rest over 10 species, leave one photo out (AUROC)",
    "speed": "Speed: seedlens against the same network's ceiling, MONAI and the FCDD reference, in one run",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run one benchmark")
    run.add_argument("name", choices=sorted(BENCHMARKS))
    run.add_argument("--data-root", default=str(Path(__file__).resolve().parents[1].parent / "shared" / "data"))
    run.add_argument("--device", default="auto")
    run.add_argument("--epochs", type=int, default=None, help="training epochs (default: the benchmark's own)")
    run.add_argument("--seeds", type=int, default=1)
    run.add_argument("--tag", default="", help="suffix of the result file, e.g. the machine (cpu, h100)")
    run.add_argument("--out-dir", default=str(RESULTS_DIR))
    sub.add_parser("table", help="regenerate bench/RESULTS.md from bench/results/*.json")
    merge = sub.add_parser("merge", help="join one-vs-rest results run on disjoint classes into one file")
    merge.add_argument("name", help="result name, e.g. fashion_mnist-gpu (written as NAME.json)")
    merge.add_argument("parts", nargs="+", type=Path, help="result files of the same benchmark and settings")
    merge.add_argument("--out-dir", default=str(RESULTS_DIR))
    known, rest = parser.parse_known_args(argv)
    if known.command == "run":
        module = importlib.import_module(BENCHMARKS[known.name])
        extra = argparse.ArgumentParser(prog=f"python -m bench run {known.name}")
        module.add_arguments(extra)
        args = extra.parse_args(rest, namespace=known)
        if args.epochs is None:
            args.epochs = getattr(module, "DEFAULT_EPOCHS", 10)  # a benchmark's None: the library's own budget
        start = time.perf_counter()
        settings, results = module.run(args)
        name = known.name + (f"-{known.tag}" if known.tag else "")
        path = write_result(name, settings, results, start, Path(known.out_dir))
        print(f"wrote {path}")
        write_markdown(Path(known.out_dir))
        return 0
    if known.command == "merge":
        if rest:
            parser.error(f"unrecognized arguments: {' '.join(rest)}")
        return merge_results(known.name, known.parts, Path(known.out_dir))
    write_markdown(Path(RESULTS_DIR))
    return 0


def merge_results(name: str, parts: list[Path], out_dir: Path) -> int:
    """Write ``out_dir/NAME.json`` from one-vs-rest parts run on disjoint classes; regenerate the Markdown."""
    payloads = []
    for part in parts:
        try:
            payload = json.loads(part.read_text())
        except (OSError, ValueError) as error:
            print(f"merge: {part}: not a readable result file ({error})", file=sys.stderr)
            return 2
        missing = [k for k in ("benchmark", "settings", "results", "machine", "wall_time_s") if k not in payload]
        if missing:
            print(f"merge: {part}: not a benchmark result (no {', '.join(missing)})", file=sys.stderr)
            return 2
        payloads.append(payload)
    benchmark = name.split("-")[0]
    module = importlib.import_module(BENCHMARKS.get(benchmark, "bench"))
    wrong = [str(p) for p, payload in zip(parts, payloads, strict=True)
             if payload["benchmark"].split("-")[0] != benchmark or "per_class_per_seed" not in payload["results"]]
    if wrong or not hasattr(module, "CLASSES"):
        print(f"merge: {name!r} needs one-vs-rest results (fashion_mnist, cifar10) of that benchmark; "
              f"not: {', '.join(wrong) or benchmark}", file=sys.stderr)
        return 2
    from bench._onevsrest import merge_parts

    try:
        merged = merge_parts(payloads, list(module.CLASSES))
    except ValueError as error:
        print(f"merge: {error}", file=sys.stderr)
        return 2
    path = out_dir / f"{name}.json"
    path.write_text(json.dumps({**merged, "benchmark": name}, indent=2, default=float) + "\n")
    print(f"wrote {path}")
    write_markdown(out_dir)
    return 0


def write_markdown(results_dir: Path) -> Path:
    """Regenerate ``bench/RESULTS.md`` from every result JSON with a known benchmark."""
    sections = [
        "# Benchmark results",
        "",
        "Generated by `python -m bench table` from `bench/results/*.json`; every number comes from a run of "
        "the project's own code, with its machine and settings beside it.",
        "",
    ]
    summary = results_dir / "targets.md"  # the targets at a glance, written by hand from the results below
    if summary.is_file():
        sections += [summary.read_text().strip(), ""]
    for name, module_name in BENCHMARKS.items():
        files = sorted(results_dir.glob(f"{name}.json")) + sorted(results_dir.glob(f"{name}-*.json"))
        if not files:
            continue
        module = importlib.import_module(module_name)
        sections += [f"## {TITLES[name]}", ""]
        for file in files:
            result = json.loads(file.read_text())
            m = result["machine"]
            where = m.get("gpu") or f"CPU, {m['cpu_count']} cores"
            dirty = " + uncommitted changes" if result.get("git_dirty") else ""
            sections += [
                f"`{file.name}` — {result['date']}, {where}, torch {m['torch']}, "
                f"commit {str(result.get('git_commit'))[:8]}{dirty}, wall time {result['wall_time_s']:.0f} s",
                "",
                module.markdown(result),
                "",
            ]
    for snippet in sorted(set(results_dir.glob("*.md")) - {summary}):  # hub benchmarks' own Markdown, and notes
        sections += [snippet.read_text().strip(), ""]
    path = results_dir.parent / "RESULTS.md"
    path.write_text("\n".join(sections) + "\n")
    return path


if __name__ == "__main__":
    sys.exit(main())
