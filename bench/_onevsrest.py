"""One-vs-rest benchmarks: one fit per normal class, every other class's test images are the anomalies.

Methods compared on identical splits: the knn detector (the test set embedded once and scored per class), an
IsolationForest (scikit-learn) on the same pretrained features, and the trained baselines (vanilla FCDD, HSC,
autoencoder) with library defaults.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

METHODS = ("knn", "iforest", "fcdd", "hsc", "autoencoder")
TRAINED = ("fcdd", "hsc", "autoencoder")
LABELS = {
    "knn": "seedlens knn",
    "iforest": "IsolationForest (scikit-learn) on the knn features",
    "fcdd": "vanilla FCDD (confetti noise, from scratch)",
    "hsc": "HSC baseline",
    "autoencoder": "autoencoder baseline",
}


def parse_methods(spec: str) -> list[str]:
    """``"knn,fcdd"`` -> ``["knn", "fcdd"]``; an unknown name is an error that lists the known ones."""
    methods = list(dict.fromkeys(m.strip() for m in spec.split(",") if m.strip()))
    unknown = [m for m in methods if m not in METHODS]
    if unknown or not methods:
        raise SystemExit(f"--methods: unknown {unknown or spec!r}; choose from {', '.join(METHODS)}")
    return methods


def parse_classes(spec: str) -> list[int]:
    """``"0-9"`` or ``"0,3,7"`` -> class indices."""
    if "-" in spec:
        low, high = spec.split("-")
        return list(range(int(low), int(high) + 1))
    return [int(c) for c in spec.split(",")]


def one_vs_rest(
    methods: list[str],
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    classes: list[int],
    names: list[str],
    *,
    train_per_class: int | None,
    knn_options: dict[str, Any],
    trained_detector: Callable[[str, int], Any] | None = None,
    seeds: int = 1,
) -> dict[str, dict[str, list[float]]]:
    """Return ``{method: {class name: [AUROC per seed]}}`` (one entry for the deterministic knn and iforest).

    The class is normal (its first ``train_per_class`` training images, or all); every other test image is an
    anomaly. Images are ``(N, C, H, W)`` arrays. ``trained_detector(method, seed)`` builds an unfitted trained
    baseline.
    """
    from seedlens.evaluation import image_auroc

    out: dict[str, dict[str, list[float]]] = {m: {} for m in methods}
    cache: dict[str, np.ndarray] = {}
    for c in classes:
        normal = x_train[y_train == c]
        if train_per_class is not None:
            normal = normal[:train_per_class]
        labels = (y_test != c).astype(int)
        start = time.perf_counter()
        for method, scores in feature_scores(methods, knn_options, normal, x_test, cache).items():
            out[method][names[c]] = [image_auroc(labels, scores)]
            _report(c, names[c], "knn features", out, (method,), start)
        for method in (m for m in methods if m in TRAINED):
            if trained_detector is None:
                raise ValueError(f"method {method!r} needs trained_detector")
            start = time.perf_counter()
            for seed in range(seeds):
                detector = trained_detector(method, seed).fit(normal, progress=False)
                out[method].setdefault(names[c], []).append(image_auroc(labels, detector.score(x_test)))
            _report(c, names[c], method, out, (method,), start)
    return out


def feature_scores(methods: list[str], knn_options: dict[str, Any], normal: Any, images: Any,
                   cache: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Scores ``(N,)`` of ``images`` by the knn fitted on ``normal`` and by an IsolationForest on its bank.

    Only the methods among ``knn`` and ``iforest`` that ``methods`` names; none: nothing is fitted.
    """
    from seedlens.detectors import KNN

    wanted = [m for m in ("knn", "iforest") if m in methods]
    if not wanted:
        return {}
    detector = KNN(**knn_options).fit(normal, progress=False)
    embedded = cached_embeddings(detector, images, cache)
    compute = {"knn": lambda: detector.score_embeddings(embedded),
               "iforest": lambda: isolation_forest_scores(detector.bank_, embedded)}
    return {m: compute[m]() for m in wanted}


def isolation_forest_scores(normal: np.ndarray, test: np.ndarray, seed: int = 0) -> np.ndarray:
    """Anomaly scores ``(N,)`` of test features ``(N, F)`` from an IsolationForest fitted on normal ``(M, F)``."""
    from sklearn.ensemble import IsolationForest

    forest = IsolationForest(n_estimators=200, random_state=seed).fit(normal)
    return np.asarray(-forest.score_samples(test))


def summary(per_seed: dict[str, dict[str, list[float]]]) -> dict[str, Any]:
    """Per-class means and the mean over classes of each method."""
    per_class = {m: {name: float(np.mean(v)) for name, v in rows.items()} for m, rows in per_seed.items()}
    return {"per_class_per_seed": per_seed, "methods": per_class,
            "mean_auroc": {m: float(np.mean(list(rows.values()))) for m, rows in per_class.items() if rows}}


def merge_parts(parts: list[dict[str, Any]], names: list[str]) -> dict[str, Any]:
    """One result from runs of one benchmark on disjoint classes (e.g. side by side on a GPU).

    ``parts`` are whole result payloads (``bench/results/*.json``) with equal settings, machine kind and commit;
    the merged payload takes the first one's machine, date and commit, the longest wall time, and lists the parts
    with their own wall times under ``settings["merged_from"]``. Raises ``ValueError`` naming the setting,
    machine field or class that does not fit.
    """
    first = parts[0]
    per_seed: dict[str, dict[str, list[float]]] = {}
    for part in parts:
        differing = sorted(k for k in {*first["settings"], *part["settings"]}
                           if first["settings"].get(k) != part["settings"].get(k))
        if differing:
            raise ValueError(f"{part['benchmark']}: settings {differing} differ from {first['benchmark']}'s")
        where = [k for k in ("gpu", "cpu_count", "torch") if first["machine"].get(k) != part["machine"].get(k)]
        where += [k for k in ("git_commit", "git_dirty") if first.get(k) != part.get(k)]
        if where:
            raise ValueError(f"{part['benchmark']}: ran elsewhere than {first['benchmark']} ({', '.join(where)})")
        unknown = sorted({n for rows in part["results"]["per_class_per_seed"].values() for n in rows} - set(names))
        if unknown:
            raise ValueError(f"{part['benchmark']}: unknown class(es) {unknown}")
        for method, rows in part["results"]["per_class_per_seed"].items():
            taken = per_seed.setdefault(method, {})
            twice = sorted(set(taken) & set(rows))
            if twice:
                raise ValueError(f"{part['benchmark']}: {method} on class(es) {twice} is in two parts")
            taken.update(rows)
    ordered = {m: {n: rows[n] for n in names if n in rows} for m, rows in per_seed.items()}
    extra = {k: v for k, v in first["results"].items() if k not in ("per_class_per_seed", "methods", "mean_auroc")}
    merged_from = [{"benchmark": p["benchmark"], "classes": sorted({n for rows in p["results"]["per_class_per_seed"]
                                                                    .values() for n in rows}, key=names.index),
                    "wall_time_s": p["wall_time_s"]} for p in parts]
    return {**first, "wall_time_s": max(p["wall_time_s"] for p in parts),
            "settings": {**first["settings"], "merged_from": merged_from},
            "results": {**summary(ordered), **extra}}


def method_rows(results: dict[str, Any], names: list[str], epochs: int | None, seeds: int,
                labels: dict[str, str] | None = None) -> list[str]:
    """Markdown table rows: one per method that ran, trained baselines labelled with their epochs and seeds."""
    lines = ["| method | " + " | ".join(names) + " | **mean** |", "|---|" + "---|" * (len(names) + 1)]
    for method, row in results["methods"].items():
        if method not in results["mean_auroc"]:
            continue
        label = {**LABELS, **(labels or {})}[method]
        if method in TRAINED:
            label = with_budget(label, epochs, seeds)
        lines.append(f"| {label} | " + " | ".join(f"{row[n]:.3f}" if n in row else "–" for n in names)
                     + f" | **{results['mean_auroc'][method]:.3f}** |")
    return lines


def with_budget(label: str, epochs: int | None, seeds: int) -> str:
    """A trained method's row label with its budget: inside the label's closing bracket if it has one."""
    budget = f"{epochs} epochs × {seeds} seed(s)"
    return f"{label[:-1]}; {budget})" if label.endswith(")") else f"{label} ({budget})"


def provenance(settings: dict[str, Any]) -> list[str]:
    """Markdown lines on how a result was put together: the runs it was joined from, notes on cut runs."""
    lines = []
    if settings.get("merged_from"):
        parts = "; ".join(f"{', '.join(p['classes'])} ({p['wall_time_s']:.0f} s)" for p in settings["merged_from"])
        lines.append(f"Joined from {len(settings['merged_from'])} runs of disjoint classes (same settings, machine "
                     f"kind and commit; `python -m bench merge`), with their wall times: {parts}.")
    if settings.get("note"):
        lines.append(f"Note: {settings['note']}.")
    return lines


def _report(c: int, name: str, what: str, out: dict[str, dict[str, list[float]]], methods: tuple[str, ...],
            start: float) -> None:
    figures = ", ".join(f"{m} {np.mean(out[m][name]):.4f}" for m in methods if name in out.get(m, {}))
    print(f"class {c} ({name}), {what}: {figures} ({time.perf_counter() - start:.0f} s)", flush=True)


def cached_embeddings(detector: Any, images: Any, cache: dict[str, np.ndarray]) -> np.ndarray:
    """``detector.embed(images)``, computed once per fitted preprocessing (detectors that preprocess alike agree)."""
    key = repr(detector.preprocessor_.to_dict())
    if key not in cache:
        cache[key] = detector.embed(images)
    return cache[key]
