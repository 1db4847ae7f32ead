"""One-vs-rest with the knn detector: one fit per normal class, the test set embedded once and scored per class."""

from __future__ import annotations

import time
from typing import Any

import numpy as np


def knn_one_vs_rest(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    classes: list[int],
    names: list[str],
    train_per_class: int | None,
    options: dict[str, Any],
) -> dict[str, float]:
    """Return ``{class name: AUROC}`` of one-vs-rest detection with the knn detector.

    The class is normal (its first ``train_per_class`` training images, or all); every other test image is an
    anomaly. Images are ``(N, C, H, W)`` arrays. The test set is embedded once; a detector whose preprocessing
    differs from the one that embedded it (e.g. another fitted intensity range) embeds it again.
    """
    from seedlens.detectors import KNN
    from seedlens.evaluation import image_auroc

    aurocs: dict[str, float] = {}
    cache: dict[str, np.ndarray] = {}
    for c in classes:
        start = time.perf_counter()
        normal = x_train[y_train == c]
        if train_per_class is not None:
            normal = normal[:train_per_class]
        detector = KNN(**options).fit(normal, progress=False)
        scores = detector.score_embeddings(cached_embeddings(detector, x_test, cache))
        aurocs[names[c]] = image_auroc((y_test != c).astype(int), scores)
        print(f"class {c} ({names[c]}): AUROC {aurocs[names[c]]:.4f} ({time.perf_counter() - start:.0f} s)",
              flush=True)
    return aurocs


def cached_embeddings(detector: Any, images: Any, cache: dict[str, np.ndarray]) -> np.ndarray:
    """``detector.embed(images)``, computed once per fitted preprocessing (detectors that preprocess alike agree)."""
    key = repr(detector.preprocessor_.to_dict())
    if key not in cache:
        cache[key] = detector.embed(images)
    return cache[key]
