"""The EOE curve: one-vs-rest AUROC against the number of Outlier Exposure images (0, 1, 2, 4, ..., all).

The protocol of "Exposing Outlier Exposure" (REFERENCE.md): for each count N, a fixed random subset of N outlier
images, drawn by the seed, from a pool of unrelated pictures, prepared like the normal images and strongly augmented
when few (seedlens's defaults). N = 0 is the detector without outliers (its synthetic confetti anomalies). Each
point trains the detector on the first ``--train-per-class`` images of the normal class and scores every test image;
every point sees the same data.

* ``--dataset fashion_mnist``: outliers are grey CIFAR-10 training images (never Fashion-MNIST);
* ``--dataset cifar10``: outliers are the 80 seed microscope photos of ``seeds-microscope/`` (10 plant species,
  unrelated to all ten CIFAR-10 classes: no plane, car, animal, ship or truck).

``--backbone efficientnet_lite0 --finetune`` is the pretrained variant (EOE's recipe as ``seedlens train --finetune``:
the backbone at a tenth of the learning rate, its stem and first stage fixed).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.fashion_mnist import CLASSES, grey_cifar_folder

#: Passes over the normal images per point (smoke-level on 2 CPU cores; a GPU affords the library's own budget).
DEFAULT_EPOCHS = 3
COUNTS = "0,1,2,4,8,16,32,64,all"
#: Fashion-MNIST classes in words, for CLIP's prompt "a photo of a {}."
CLASS_WORDS = ["t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle boot"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", default="fashion_mnist", choices=["fashion_mnist", "cifar10"])
    parser.add_argument("--backbone", default="auto", help="e.g. efficientnet_lite0 (with --finetune)")
    parser.add_argument("--finetune", action="store_true", help="fine-tune a pretrained backbone (EOE's recipe)")
    parser.add_argument("--image-size", type=int, default=None, help="default: 28 (Fashion-MNIST), 32 (CIFAR-10)")
    parser.add_argument("--classes", default="0", help="normal classes, e.g. 0 or 0,3,7")
    parser.add_argument("--counts", default=COUNTS, help="outlier counts (0: no outliers, all: the whole pool)")
    parser.add_argument("--method", default="hsc", choices=["hsc", "fcdd"])
    parser.add_argument("--objective", default="hsc", choices=["hsc", "bce", "focal"], help="hsc's objective")
    parser.add_argument("--train-per-class", type=int, default=1000, help="normal training images (0: all 6000)")
    parser.add_argument("--pool", type=int, default=2000, help="CIFAR-10 images in the outlier pool")
    parser.add_argument("--optimizer", default="sgd")
    parser.add_argument("--lr", type=float, default=1e-2)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--clip", default=None, help="CLIP folder or hub name: also CLIP zero-shot (no training)")


def parse_counts(spec: str) -> list[int | str]:
    """``0,1,2,all`` -> ``[0, 1, 2, "all"]``."""
    out: list[int | str] = []
    for part in spec.split(","):
        part = part.strip()
        out.append("all" if part == "all" else int(part))
    return out


def run(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, Any]]:
    from bench._onevsrest import parse_classes
    from seedlens.detectors import create_detector
    from seedlens.evaluation import image_auroc

    root = Path(args.data_root)
    if args.dataset == "cifar10":
        from bench.cifar10 import CLASSES as CIFAR_CLASSES
        from bench.cifar10 import load_split

        tar_path = root / "cifar10" / "cifar10_jpg.tar"
        (x_train, y_train), (x_test, y_test) = load_split(tar_path, "train"), load_split(tar_path, "test")
        names, words, pool = CIFAR_CLASSES, CIFAR_CLASSES, root / "seeds-microscope"
        photos = sorted(pool.glob("*.jpg"))
        species = {p.stem.split("_", 1)[-1] for p in photos}
        pool_text = f"the {len(photos)} seed microscope photos ({len(species)} plant species)"
        size = args.image_size or 32
    else:
        data = np.load(root / "fashion-mnist" / "fashion_mnist.npz")
        x_train, y_train = data["x_train"][:, None] / np.float32(255), data["y_train"]
        x_test, y_test = data["x_test"][:, None] / np.float32(255), data["y_test"]
        names, words, pool = CLASSES, CLASS_WORDS, grey_cifar_folder(root, count=args.pool)
        pool_text = f"{args.pool} random grey CIFAR-10 training images"
        size = args.image_size or 28
    counts = parse_counts(args.counts)
    classes = parse_classes(args.classes)
    options: dict[str, Any] = {"image_size": size, "epochs": args.epochs, "device": args.device,
                               "optimizer": args.optimizer, "lr": args.lr, "batch_size": args.batch_size,
                               "lr_decay": 0.98, "weight_decay": 1e-6, "backbone": args.backbone}
    if args.method == "hsc":
        options["objective"] = args.objective
    if args.finetune:
        from seedlens.cli.train import _finetune_options

        _finetune_options(options)  # the same recipe as `seedlens train --finetune`
    curve: dict[str, dict[str, list[float]]] = {str(c): {} for c in counts}
    seconds: dict[str, float] = {}
    for c in classes:
        normal = x_train[y_train == c]
        normal = normal[: args.train_per_class] if args.train_per_class else normal
        labels = (y_test != c).astype(int)
        for count in counts:
            key = str(count)
            for seed in range(args.seeds):
                exposure = {} if count == 0 else {"outliers": str(pool), "outlier_count": count}
                start = time.perf_counter()
                detector = create_detector(args.method, seed=seed, **options, **exposure)
                detector.fit(normal, progress=False)
                auroc = image_auroc(labels, detector.score(x_test))
                seconds[key] = seconds.get(key, 0.0) + time.perf_counter() - start
                curve[key].setdefault(names[c], []).append(float(auroc))
                print(f"class {names[c]}, {count} outlier(s), seed {seed}: AUROC {auroc:.4f}", flush=True)
    zero_shot: dict[str, float] | str = "no CLIP weights given (--clip PATH): CLIP zero-shot not measured"
    if args.clip:
        zero_shot = {}
        for c in classes:
            clip = create_detector("clip", clip=args.clip, normal_class=words[c], device=args.device).fit(None)
            zero_shot[names[c]] = float(image_auroc((y_test != c).astype(int), clip.score(x_test)))
            print(f"class {names[c]}, CLIP zero-shot: AUROC {zero_shot[names[c]]:.4f}", flush=True)
    mean = {key: float(np.mean([np.mean(v) for v in per_class.values()])) for key, per_class in curve.items()}
    plot = _plot(mean, curve, args, Path(args.out_dir))
    settings = {"dataset": args.dataset, "classes": [names[c] for c in classes], "counts": [str(c) for c in counts],
                "method": args.method, "objective": args.objective if args.method == "hsc" else "fcdd",
                "backbone": args.backbone, "finetune": args.finetune, "image_size": size,
                "train_per_class": min(int(np.sum(y_train == c)) for c in classes) if not args.train_per_class
                else min(args.train_per_class, *(int(np.sum(y_train == c)) for c in classes)), "pool": args.pool,
                "epochs": args.epochs, "seeds": args.seeds, "optimizer": args.optimizer, "lr": args.lr,
                "batch_size": args.batch_size, "device": args.device, "outliers": pool_text}
    settings["clip"] = args.clip
    return settings, {"mean_auroc": mean, "per_class_per_seed": curve, "seconds": seconds, "plot": plot.name,
                      "clip_zero_shot": zero_shot}


def _plot(mean: dict[str, float], curve: dict[str, dict[str, list[float]]], args: argparse.Namespace,
          out_dir: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = list(mean)
    positions = np.arange(len(keys))
    fig, ax = plt.subplots(figsize=(6.4, 3.6), dpi=120)
    for name in sorted({n for per_class in curve.values() for n in per_class}):
        values = [float(np.mean(curve[k][name])) if name in curve[k] else float("nan") for k in keys]
        ax.plot(positions, values, marker="o", alpha=0.35, label=name)
    ax.plot(positions, [mean[k] for k in keys], marker="s", color="black", linewidth=2, label="mean")
    ax.set_xticks(positions, ["0 (confetti)" if k == "0" else k for k in keys])
    unrelated = "seed photos" if args.dataset == "cifar10" else "grey CIFAR-10"
    ax.set_xlabel(f"outlier images ({unrelated}, fixed seeded subset)")
    ax.set_ylabel("AUROC")
    dataset = "CIFAR-10" if args.dataset == "cifar10" else "Fashion-MNIST"
    backbone = f", {args.backbone}{' fine-tuned' if args.finetune else ''}" if args.backbone != "auto" else ""
    ax.set_title(f"{dataset} one-vs-rest, {args.method}{backbone} with Outlier Exposure")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"eoe_curve{'-' + args.tag if args.tag else ''}.png"
    fig.savefig(path)
    plt.close(fig)
    return path


def markdown(result: dict[str, Any]) -> str:
    r, s = result["results"], result["settings"]
    counts = s["counts"]
    header = "| outlier images | " + " | ".join("0 (none: confetti)" if c == "0" else c for c in counts) + " |"
    rule = "|---|" + "---|" * len(counts)
    backbone = s.get("backbone", "auto")
    variant = f", {backbone}{' fine-tuned' if s.get('finetune') else ''}" if backbone != "auto" else ""
    row = f"| seedlens {s['method']} ({s['objective']}{variant}) mean AUROC | " + " | ".join(
        f"{r['mean_auroc'][c]:.3f}" for c in counts) + " |"
    zero_shot = r.get("clip_zero_shot", "no CLIP weights given (--clip PATH): CLIP zero-shot not measured")
    clip = (f"CLIP zero-shot ({s.get('clip')}): mean AUROC {np.mean(list(zero_shot.values())):.3f}."
            if isinstance(zero_shot, dict) else f"{zero_shot[0].upper()}{zero_shot[1:]}.")
    return "\n".join([
        header, rule, row, "", clip, "",
        f"{'CIFAR-10' if s.get('dataset') == 'cifar10' else 'Fashion-MNIST'}, normal classes "
        f"{', '.join(s['classes'])}: the first {s['train_per_class']} training images, "
        f"{s['epochs']} epochs × {s['seeds']} seed(s), {s['optimizer']} lr {s['lr']}, batch {s['batch_size']}, "
        f"{s.get('image_size', 28)}×{s.get('image_size', 28)}, on {s['device']}. Outliers: a fixed subset of N drawn "
        f"by the seed from {s['outliers']} (never the benchmark's own classes), prepared like the normals and "
        "strongly augmented when few. "
        f"Anchor: EOE reports that one well-chosen OE image already gives ≈0.79 mean AUC on ImageNet-30. "
        f"Plot: `{r['plot']}`.",
    ])
