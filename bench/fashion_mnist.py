"""Fashion-MNIST one-vs-rest: fit a detector on one class, AUROC of that class vs all other test images.

Reads ``DATA_ROOT/fashion-mnist/fashion_mnist.npz``. ``--methods`` picks any of: ``knn`` (the training-free knn
detector on pretrained features, with CIFAR-10's configuration, not tuned on Fashion-MNIST),
``iforest`` (an IsolationForest on the same features), ``fcdd`` (trained with confetti noise, or Outlier Exposure
with grey CIFAR-10 images with ``--anomalies outliers``; needs ``DATA_ROOT/cifar10``; never other Fashion-MNIST
classes), ``hsc`` and ``autoencoder``. The trained methods share ``--optimizer``, ``--lr`` and ``--batch-size``
(the FCDD paper's SGD settings by default). Every method sees the same first ``--train-per-class`` images of the
normal class (default 1000; the FCDD runs recorded before the methods were compared used all 6000:
``--train-per-class 0``) and the same 10000 test images.
"""

from __future__ import annotations

import argparse
import tarfile
from pathlib import Path
from typing import Any

import numpy as np

from bench._onevsrest import LABELS, METHODS, method_rows, provenance
from bench.cifar10 import CONFIGURATION as CIFAR10_CONFIGURATION

#: Smoke-level default for the trained methods (1000 images per class: under a minute per class and method on 2 CPU
#: cores); use a GPU, ``--train-per-class 0`` (all 6000) and more epochs for real numbers.
DEFAULT_EPOCHS = 3

CLASSES = ["t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle-boot"]
ANCHORS = {"FCDD with OE (paper)": 0.89, "GEO (paper)": 0.94, "Deep SVDD (paper)": 0.93, "Autoencoder (paper)": 0.82}


#: The knn configuration: CIFAR-10's (chosen on a CIFAR-10 training-set val split), applied unchanged; never tuned
#: on Fashion-MNIST.
KNN_CONFIGURATION = dict(CIFAR10_CONFIGURATION)
#: The first CIFAR-10 choice (800 normal / 200 val images per class, best of 29), which the first knn run used.
FIRST_CIFAR10_CONFIGURATION = {"stage": 7, "pooling": "meanstd", "metric": "cosine", "k": 5, "image_size": 224}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--methods", default=",".join(METHODS), help=f"any of {', '.join(METHODS)}")
    parser.add_argument("--train-per-class", type=int, default=1000, help="training images per class (0: all 6000)")
    parser.add_argument("--classes", default="0-9", help="class indices, e.g. 0-9 or 0,3,7")
    parser.add_argument("--stage", type=int, default=KNN_CONFIGURATION["stage"], help="knn: backbone stage (8: head)")
    parser.add_argument("--k", type=int, default=KNN_CONFIGURATION["k"], help="knn: neighbours averaged")
    parser.add_argument("--anomalies", default="confetti", choices=["confetti", "outliers"])
    parser.add_argument("--optimizer", default="sgd")
    parser.add_argument("--lr", type=float, default=1e-2)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--outlier-dir", default=None, help="folder of OE images (default: extract grey CIFAR-10)")


def grey_cifar_folder(data_root: Path, count: int = 2000, seed: int = 0) -> Path:
    """Extract ``count`` random CIFAR-10 training JPEGs into a cache folder (outside the repository).

    The folder is named after the archive (its path and size) and the count, so another archive never reuses it.
    """
    import hashlib

    archive = (data_root / "cifar10" / "cifar10_jpg.tar").resolve()
    key = hashlib.sha256(f"{archive}:{archive.stat().st_size}:{seed}".encode()).hexdigest()[:12]
    cache = Path.home() / ".cache" / "seedlens-bench" / f"cifar10-oe-{count}-{key}"
    if cache.is_dir() and len(list(cache.glob("*.jpg"))) >= count:
        return cache
    cache.mkdir(parents=True, exist_ok=True)
    with tarfile.open(data_root / "cifar10" / "cifar10_jpg.tar") as tar:
        members = [m for m in tar.getmembers() if m.isfile() and "/train/" in f"/{m.name}" and m.name.endswith(".jpg")]
        chosen = np.random.default_rng(seed).choice(len(members), size=min(count, len(members)), replace=False)
        for i in chosen:
            member = members[int(i)]
            handle = tar.extractfile(member)
            assert handle is not None
            (cache / f"{i:06d}.jpg").write_bytes(handle.read())
    return cache


def run(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, Any]]:
    from bench._onevsrest import one_vs_rest, parse_classes, parse_methods, summary
    from seedlens.detectors import create_detector

    methods = parse_methods(args.methods)
    data = np.load(Path(args.data_root) / "fashion-mnist" / "fashion_mnist.npz")
    x_train, y_train = data["x_train"][:, None] / np.float32(255), data["y_train"]
    x_test, y_test = data["x_test"][:, None] / np.float32(255), data["y_test"]
    training = {"optimizer": args.optimizer, "lr": args.lr, "batch_size": args.batch_size, "lr_decay": 0.98,
                "weight_decay": 1e-6}
    exposure: dict[str, Any] = {"anomalies": args.anomalies}
    if args.anomalies == "outliers" and any(m in methods for m in ("fcdd", "hsc")):
        exposure["outliers"] = args.outlier_dir or str(grey_cifar_folder(Path(args.data_root)))

    def trained(method: str, seed: int) -> Any:
        extra = exposure if method in ("fcdd", "hsc") else {}
        return create_detector(method, image_size=28, epochs=args.epochs, device=args.device, seed=seed,
                               **training, **extra)

    knn_options = {**KNN_CONFIGURATION, "stage": args.stage, "k": args.k, "score": "image", "intensity": "none",
                   "device": args.device}
    per_class = args.train_per_class or None
    per_seed = one_vs_rest(methods, x_train, y_train, x_test, y_test, parse_classes(args.classes), CLASSES,
                           train_per_class=per_class, knn_options=knn_options, trained_detector=trained,
                           seeds=args.seeds)
    settings: dict[str, Any] = {
        "methods": methods,
        "train_per_class": per_class or 6000,
        "knn_options": knn_options,
        "knn_selection": _selection(knn_options),
        "epochs": args.epochs,
        "seeds": args.seeds,
        "anomalies": args.anomalies,
        **training,
        "device": args.device,
        "configurations_tried": 1,
    }
    if args.anomalies == "outliers":
        settings["outliers"] = "2000 random CIFAR-10 training images, grey-scaled and resized to 28×28"
    return settings, {**summary(per_seed), "anchors": ANCHORS}


def _selection(options: dict[str, Any]) -> str:
    """How the knn options were chosen: never on Fashion-MNIST."""
    if all(options[key] == value for key, value in CIFAR10_CONFIGURATION.items()):
        return ("the CIFAR-10 configuration (head features, k = 10; chosen on a CIFAR-10 training-set val split), "
                "applied unchanged: not tuned on Fashion-MNIST")
    if all(options[key] == value for key, value in FIRST_CIFAR10_CONFIGURATION.items()):
        return ("the first CIFAR-10 configuration (best of 29 on a CIFAR-10 training-set val split), not tuned on "
                "Fashion-MNIST")
    return "given on the command line (--stage, --k)"


def markdown(result: dict[str, Any]) -> str:
    r, s = result["results"], result["settings"]
    anchors = ", ".join(f"{k} {v:.2f}" for k, v in r["anchors"].items())
    if "methods" in r:
        outliers = s["anomalies"] == "outliers"
        labels = {"fcdd": "FCDD + Outlier Exposure (grey CIFAR-10, from scratch)" if outliers else LABELS["fcdd"],
                  "hsc": "HSC baseline + Outlier Exposure (grey CIFAR-10)" if outliers else LABELS["hsc"]}
        lines = method_rows(r, CLASSES, s["epochs"], s["seeds"], labels)
        lines += ["", f"Anchors (mean AUROC): {anchors}."]
        trained = [m for m in r["methods"] if m not in ("knn", "iforest")]
        parts = [f"every method on the first {s['train_per_class']} training images of the normal class"]
        if set(r["methods"]) & {"knn", "iforest"}:
            o = s["knn_options"]
            stage = "head (stage 8)" if o["stage"] == 8 else f"stage {o['stage']}"
            parts.append(f"knn on EfficientNet-Lite0 {stage} ({o['pooling']} pooling, {o['metric']} "
                         f"distance, k = {o['k']}, {o['image_size']}×{o['image_size']} inputs; {s['knn_selection']})")
        if trained:
            parts.append(f"trained methods at 28×28: {s['epochs']} epochs × {s['seeds']} seed(s), {s['optimizer']} "
                         f"lr {s['lr']}, batch {s['batch_size']}, FCDD/HSC anomalies: {s['anomalies']}")
        lines.append(f"Settings: {'; '.join(parts)}; device {s['device']}.")
        return "\n".join(lines + provenance(s))
    # results written before the benchmark compared methods: one detector per file
    lines = [
        "| class | " + " | ".join(r["per_class_mean"]) + " | **mean** |",
        "|---|" + "---|" * (len(r["per_class_mean"]) + 1),
        f"| seedlens {'knn' if s.get('detector') == 'knn' else 'FCDD'} | "
        + " | ".join(f"{v:.3f}" for v in r["per_class_mean"].values())
        + f" | **{r['mean_auroc']:.3f}** |",
        "",
        f"Anchors (mean AUROC): {anchors}.",
    ]
    if s.get("detector") == "knn":
        o = s["options"]
        lines.append(f"Settings: knn on EfficientNet-Lite0 stage {o['stage']} ({o['pooling']} pooling, "
                     f"{o.get('metric', 'euclidean')} distance, k = {o.get('k', 1)}), "
                     f"{o['image_size']}×{o['image_size']} inputs, {s['train_per_class']} training images per class, "
                     f"nothing trained; {s['selection']}; device {o['device']}.")
        return "\n".join(lines)
    lines.append(
        f"Settings: {s['epochs']} epochs × {s['seeds']} seed(s), {s['anomalies']}, {s['optimizer']} "
        f"lr {s['lr']}, batch {s['batch_size']}, device {s['device']}."
    )
    return "\n".join(lines)
