"""Multi-modal fusion on the synthetic seed set: fused vs single-modality vs late fusion (macro-F1, germination).

Training data comes from ``write_multimodal_dataset(seed=0)`` (train + val splits); the test set is generated
separately with ``seed=1`` (held out: other seeds, other noise). Models, all with the library defaults except the
inputs they see: the fused model (attention over modality tokens) on every modality; one model per single
modality (``ct``, ``hsi``, ``rgb``, and ``table`` = weight + lot); late fusion = the average of the single models'
class probabilities. Targets: fused ≥ best single + 0.10 and fused ≥ late fusion + 0.03 (macro-F1).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

DEFAULT_EPOCHS = 60
SINGLE = {"ct": ("ct",), "hsi": ("hsi",), "rgb": ("rgb",), "table": ("weight", "lot")}
TARGETS = ("germination", "oil_content", "thousand_seed_weight")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--n-train", type=int, default=600)
    parser.add_argument("--n-val", type=int, default=150)
    parser.add_argument("--n-test", type=int, default=400)
    parser.add_argument("--fusion", default="attention")
    parser.add_argument("--skip-concat", action="store_true", help="do not also train the concat-fusion model")
    parser.add_argument("--first-seed", type=int, default=0, help="training seeds are first-seed .. +seeds-1")


def run(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, Any]]:
    from seedlens.data.synthetic.multimodal import oracle_macro_f1, write_multimodal_dataset
    from seedlens.evaluation.metrics import macro_f1
    from seedlens.predictors import FusionPredictor, read_manifest

    settings = {"n_train": args.n_train, "n_val": args.n_val, "n_test": args.n_test, "epochs": args.epochs,
                "fusion": args.fusion, "device": args.device, "train_seed": 0, "test_seed": 1,
                "seeds": args.seeds, "first_seed": args.first_seed}
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        train_csv = write_multimodal_dataset(Path(tmp) / "train", n_train=args.n_train, n_val=args.n_val, n_test=0,
                                             seed=0)
        test_csv = write_multimodal_dataset(Path(tmp) / "test", n_train=0, n_val=0, n_test=args.n_test, seed=1)
        data_seconds = time.perf_counter() - start
        data, test = read_manifest(train_csv), read_manifest(test_csv).split("test")
        truth = [s.values["germination"] for s in test.samples]
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            result: dict[str, Any] = {"seed": seed, "seconds": {}}

            def fit(modalities: tuple[str, ...] | None, fusion: str = args.fusion,
                    seed: int = seed, result: dict[str, Any] = result, name: str = "") -> Any:
                begin = time.perf_counter()
                model = FusionPredictor(targets=TARGETS, modalities=modalities, fusion=fusion, epochs=args.epochs,
                                        device=args.device, seed=seed).fit(data)
                result["seconds"][name] = round(time.perf_counter() - begin, 1)
                print(f"  seed {seed} {name}: trained in {result['seconds'][name]:.0f} s", flush=True)
                return model

            fused = fit(None, name="fused")
            metrics = fused.evaluate(test)
            result["fused"] = metrics["targets"]["germination"]["macro_f1"]
            result["fused_metrics"] = metrics["targets"]
            result["without"] = {k: v["germination"] for k, v in metrics["without"].items()}
            result["subsets"] = {k: v["germination"] for k, v in metrics["subsets"].items()}
            probabilities = []
            result["single"] = {}
            for name, modalities in SINGLE.items():
                model = fit(modalities, name=name)
                out = model.predict(test)["germination"]
                result["single"][name] = macro_f1(truth, out["labels"])
                probabilities.append(out["probabilities"])
                classes = out["classes"]
            average = np.mean(probabilities, axis=0)
            result["late_fusion"] = macro_f1(truth, [classes[k] for k in average.argmax(axis=1)])
            if not args.skip_concat:
                concat = fit(None, fusion="concat", name="fused_concat")
                result["fused_concat"] = concat.evaluate(test)["targets"]["germination"]["macro_f1"]
            runs.append(result)
    best_single = [max(r["single"].values()) for r in runs]
    summary = {
        "fused": float(np.mean([r["fused"] for r in runs])),
        "best_single": float(np.mean(best_single)),
        "late_fusion": float(np.mean([r["late_fusion"] for r in runs])),
    }
    summary["margin_over_best_single"] = summary["fused"] - summary["best_single"]
    summary["margin_over_late_fusion"] = summary["fused"] - summary["late_fusion"]
    summary["targets_met"] = bool(summary["margin_over_best_single"] >= 0.10
                                  and summary["margin_over_late_fusion"] >= 0.03)
    results = {"runs": runs, "summary": summary, "oracle_macro_f1": oracle_macro_f1(),
               "data_seconds": round(data_seconds, 1)}
    return settings, results


def markdown(result: dict[str, Any]) -> str:
    r, s = result["results"], result["settings"]
    summary = r["summary"]
    singles = {k: float(np.mean([run["single"][k] for run in r["runs"]])) for k in SINGLE}
    lines = [
        "Germination macro-F1 on a held-out synthetic set (test seed 1, "
        f"{s['n_test']} seeds); trained on {s['n_train']} + {s['n_val']} (seed 0), {s['epochs']} epochs, "
        "training seed(s) " + ", ".join(str(run["seed"]) for run in r["runs"]) + " (mean).",
        "",
        "| model | macro-F1 |",
        "|---|---|",
        f"| **fused ({s['fusion']})** | **{summary['fused']:.3f}** |",
    ]
    concat = [run["fused_concat"] for run in r["runs"] if "fused_concat" in run]
    if concat:
        lines.append(f"| fused (concat) | {np.mean(concat):.3f} |")
    lines.append(f"| late fusion (mean of single-modality probabilities) | {summary['late_fusion']:.3f} |")
    lines += [f"| {name} only | {value:.3f} |" for name, value in singles.items()]
    oracle = r.get("oracle_macro_f1", {})
    if oracle:
        lines.append("| oracle on the hidden state (all / " + " / ".join(k for k in oracle if k != "all") +
                     f") | {oracle['all']:.3f} / " + " / ".join(f"{v:.3f}" for k, v in oracle.items() if k != "all") +
                     " |")
    met = "met" if summary["targets_met"] else "**missed**"
    lines += [
        "",
        f"Fused − best single = {summary['margin_over_best_single']:+.3f} (target ≥ +0.10); fused − late fusion = "
        f"{summary['margin_over_late_fusion']:+.3f} (target ≥ +0.03): {met}.",
    ]
    without = {k: float(np.mean([run["without"][k] for run in r["runs"]])) for k in r["runs"][0]["without"]}
    lines += ["", "Fused model with one modality removed at inference (macro-F1): " +
              ", ".join(f"without {k} {v:.3f}" for k, v in without.items()) + "."]
    traits = r["runs"][0]["fused_metrics"]
    trait_text = [f"{name}: MAE {m['mae']:.3f}, R² {m['r2']:.3f}" for name, m in traits.items() if "mae" in m]
    if trait_text:
        lines += ["", "Traits of the fused model (first seed): " + "; ".join(trait_text) + "."]
    return "\n".join(lines)
