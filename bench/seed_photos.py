"""Seed photos: one-vs-rest over the 10 species of ``DATA_ROOT/seeds-microscope`` (8 RGB photos each), leave one out.

For each species and each of its 8 photos: fit the knn detector (library defaults, with the image score fixed
beforehand: species differ as whole objects, and 7 photos leave no labelled val to pick a score on) on the other
7 (one of which it holds out for its threshold), score the left-out photo (normal) and the 72 photos of the other
species (anomalies). A species' AUROC pools its 8 folds: 8 left-out normal scores against 8 × 72 anomaly scores.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import Any

import numpy as np

DEFAULT_EPOCHS = 0  # nothing is trained


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--image-size", type=int, default=224)


def load_photos(folder: Path) -> tuple[list[np.ndarray], list[str]]:
    """Return the photos ``(3, H, W)`` and their species, from ``NNN_<species>.jpg`` file names."""
    from seedlens.io import read

    photos, species = [], []
    for path in sorted(folder.glob("*.jpg")):
        match = re.fullmatch(r"\d+_(.+)\.jpg", path.name)
        if match is None:
            raise SystemExit(f"{path}: expected a file name NNN_<species>.jpg")
        array, _ = read(path)
        photos.append(np.asarray(array))
        species.append(match.group(1))
    return photos, species


def run(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, Any]]:
    from bench._onevsrest import cached_embeddings
    from seedlens.detectors import KNN
    from seedlens.evaluation import image_auroc

    photos, species = load_photos(Path(args.data_root) / "seeds-microscope")
    names = sorted(set(species), key=species.index)
    labels = np.asarray(species)
    options = {"image_size": args.image_size, "score": "image", "device": args.device}
    cache: dict[str, np.ndarray] = {}  # embeddings of all photos, per fitted preprocessing (intensity range)
    per_species: dict[str, float] = {}
    for name in names:
        members = np.flatnonzero(labels == name)
        others = np.flatnonzero(labels != name)
        normal_scores: list[float] = []
        anomaly_scores: list[float] = []
        for left_out in members:
            train = [photos[i] for i in members if i != left_out]
            detector = KNN(**options).fit(train, progress=False)
            scores = detector.score_embeddings(cached_embeddings(detector, photos, cache))
            normal_scores.append(scores[left_out])
            anomaly_scores.extend(scores[others])
        truth = np.r_[np.zeros(len(normal_scores)), np.ones(len(anomaly_scores))]
        per_species[name] = image_auroc(truth, np.r_[normal_scores, anomaly_scores])
        print(f"{name}: AUROC {per_species[name]:.4f}", flush=True)
    settings = {"detector": "knn", "options": options, "protocol": "one-vs-rest, leave one photo out (8 folds)",
                "photos": len(photos), "configurations_tried": 1}
    return settings, {"per_species": per_species, "mean_auroc": float(np.mean(list(per_species.values())))}


def markdown(result: dict[str, Any]) -> str:
    r, s = result["results"], result["settings"]
    return "\n".join([
        "| species | " + " | ".join(r["per_species"]) + " | **mean** |",
        "|---|" + "---|" * (len(r["per_species"]) + 1),
        "| seedlens knn | " + " | ".join(f"{v:.3f}" for v in r["per_species"].values())
        + f" | **{r['mean_auroc']:.3f}** |",
        "",
        f"No published anchor. Settings: knn library defaults with the image score ({s['options']['image_size']}×"
        f"{s['options']['image_size']}), {s['photos']} photos, {s['protocol']}; 7 training photos per fold, one of "
        "them held out for the threshold.",
    ])
