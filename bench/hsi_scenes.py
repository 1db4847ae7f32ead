"""Hyperspectral anomaly scenes: unsupervised, transductive pixel AUROC on the four scenes of ``hsi-anomaly/``.

Each detector sees one scene without its map, scores every pixel, and is judged by the pixel ROC AUC against the
map. Rows:

* global RX on all bands (the scene's own mean and covariance, ridge 1e-3 of the mean eigenvalue) and local RX
  (dual window 3 / 11, 10 principal components): library defaults, fixed before any map was looked at;
* background kNN, **leave one scene out**: for each scene, the setting of ``GRID`` (principal components ×
  neighbours × map smoothing) with the best mean AUROC on the other three scenes, applied to it unchanged — the
  honest estimate for a new scene, and the row judged against the target;
* background-kNN ensemble over ``GRID``: the mean of all its settings' maps, each scaled by its median and MAD over
  the scene (the library's knn given lists of settings) — no setting is chosen at all;
* background kNN with the library defaults (4 components, 100 neighbours, smoothing 0.5): the best setting of the
  grid over all four scenes, i.e. chosen on these very maps — optimistic, shown for reference only;
* vanilla FCDD, transductive: library defaults (spectral backbone, confetti noise, ``--epochs``) trained on
  ``FCDD_CROPS`` random crops (32×32, or the scene's side if smaller) of the scene itself (without its map), its
  heatmap of the whole scene scored.
"""

from __future__ import annotations

import argparse
import itertools
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

SCENES = {
    "HYDICE_data.mat": "Hydice",
    "abu-beach-4.mat": "Pavia (ABU beach 4)",
    "abu-urban-2.mat": "Coast (ABU urban 2)",
    "sandiego_plane.mat": "SanDiego",
}
ANCHORS = {"global RX (literature)": 0.974, "LREN (AAAI 2021)": 0.9951}
LREN = {"Hydice": 0.9998, "Pavia (ABU beach 4)": 0.9925, "Coast (ABU urban 2)": 0.9982, "SanDiego": 0.9897}
#: Epochs of the transductive vanilla FCDD row, given explicitly (about 1 min per scene on 2 CPU cores); the other
#: rows train nothing. ``--epochs 0`` leaves the FCDD row out.
DEFAULT_EPOCHS = 30
#: Random crops of a scene that FCDD trains on, and their side.
FCDD_CROPS, FCDD_CROP = 300, 32
#: Background-kNN settings searched by the leave-one-scene-out selection and averaged by the ensemble.
COMPONENTS, NEIGHBOURS, SMOOTHING = (3, 4, 5, 7, 10), (20, 50, 100, 200), (0.0, 0.5, 1.0)
GRID = list(itertools.product(COMPONENTS, NEIGHBOURS, SMOOTHING))
LOSO = "knn, leave one scene out"
ENSEMBLE = "knn ensemble over the grid (no setting chosen)"
DEFAULTS = "knn, library defaults (tuned on these maps)"
FCDD = "vanilla FCDD (trained on crops of the scene)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--outer-window", type=int, default=11)
    parser.add_argument("--inner-window", type=int, default=3)


def load_scene(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """``(bands, H, W)`` float32 cube and ``(H, W)`` bool map of one scene file."""
    from scipy.io import loadmat

    content = loadmat(path)
    return np.moveaxis(np.asarray(content["data"], dtype=np.float32), -1, 0), np.asarray(content["map"]) > 0


def run(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, Any]]:
    from seedlens.detectors.rx import KNN_COMPONENTS, KNN_SMOOTHING, RXConfig, scene_map
    from seedlens.evaluation import image_auroc

    root = Path(args.data_root) / "hsi-anomaly"
    detectors: dict[str, Callable[[np.ndarray], np.ndarray]] = {
        "global RX": lambda cube: scene_map(cube, mode="global"),
        "local RX": lambda cube: scene_map(cube, mode="local", inner_window=args.inner_window,
                                           outer_window=args.outer_window),
        ENSEMBLE: lambda cube: scene_map(cube, mode="knn", components=COMPONENTS, neighbours=NEIGHBOURS,
                                         smoothing=SMOOTHING),
        DEFAULTS: lambda cube: scene_map(cube, mode="knn"),
    }
    if args.epochs:
        detectors[FCDD] = lambda cube: transductive_fcdd(cube, epochs=args.epochs, device=args.device)
    per_scene: dict[str, dict[str, float]] = {}
    seconds: dict[str, dict[str, float]] = {}
    grid_aurocs: dict[str, list[float]] = {}
    gallery: list[tuple[str, np.ndarray, np.ndarray, dict[str, np.ndarray]]] = []
    for file, scene in SCENES.items():
        cube, truth = load_scene(root / file)
        per_scene[scene], seconds[scene] = {}, {}
        heats = {}
        for name, detect in detectors.items():
            start = time.perf_counter()
            heats[name] = heat = detect(cube)
            seconds[scene][name] = round(time.perf_counter() - start, 2)
            per_scene[scene][name] = image_auroc(truth.ravel(), heat.ravel())
            print(f"  {scene}: {name} {per_scene[scene][name]:.4f}", flush=True)
        grid_aurocs[scene] = [image_auroc(truth.ravel(), scene_map(
            cube, mode="knn", components=p, neighbours=k, smoothing=sigma).ravel()) for p, k, sigma in GRID]
        gallery.append((scene, cube, truth, heats))
    picks = leave_one_scene_out(grid_aurocs)
    for scene, (index, auroc) in picks.items():
        per_scene[scene][LOSO] = auroc
        print(f"  {scene}: {LOSO} {auroc:.4f} (setting {GRID[index]} picked on the other scenes)", flush=True)
    gallery_path = Path(args.out_dir) / "hsi_scenes_gallery.png"
    write_gallery(gallery, per_scene, gallery_path)
    names = ["global RX", "local RX", ENSEMBLE, LOSO, DEFAULTS] + ([FCDD] if FCDD in detectors else [])
    means = {name: float(np.mean([per_scene[s][name] for s in per_scene])) for name in names}
    settings = {
        "inner_window": args.inner_window, "outer_window": args.outer_window,
        "knn_defaults": {"components": KNN_COMPONENTS, "neighbours": RXConfig().neighbours, "smoothing": KNN_SMOOTHING},
        "knn_grid": [dict(zip(("components", "neighbours", "smoothing"), g, strict=True)) for g in GRID],
        "configurations_tried": {
            "rows of this table": {"global and local RX": 2, "knn grid (leave one scene out)": len(GRID),
                                   "knn ensemble scalings": 3, "vanilla FCDD": 1 if args.epochs else 0},
            "explored on these maps, not adopted (see the notes)": {
                "global RX fused with each knn setting": 5 * len(GRID), "background purification": 4,
                "earlier sessions": "RX on 3-30 components, subspace RX, attribute filtering, area top-hat, "
                                    "rank fusions, dual-window kNN and its fusion with global kNN"},
        },
        "protocol": "transductive, unsupervised, pixel AUROC; knn setting by leave-one-scene-out",
    }
    if args.epochs:
        settings["fcdd"] = {"epochs": args.epochs, "crops": FCDD_CROPS, "crop": FCDD_CROP, "device": args.device}
    results = {"per_scene": per_scene, "mean": means, "seconds": seconds, "gallery": gallery_path.name,
               "loso_picks": {scene: dict(zip(("components", "neighbours", "smoothing"), GRID[index], strict=True))
                              for scene, (index, _) in picks.items()},
               "grid_per_scene": grid_aurocs}
    return settings, results


def transductive_fcdd(cube: np.ndarray, *, epochs: int, device: str, seed: int = 0) -> np.ndarray:
    """FCDD heatmap ``(H, W)`` of a scene ``(bands, H, W)``, trained on random crops of that scene (no map)."""
    from seedlens.detectors import create_detector

    rng = np.random.default_rng(seed)
    side = min(FCDD_CROP, *cube.shape[1:])
    tops = rng.integers(0, cube.shape[1] - side + 1, FCDD_CROPS)
    lefts = rng.integers(0, cube.shape[2] - side + 1, FCDD_CROPS)
    crops = np.stack([cube[:, y:y + side, x:x + side] for y, x in zip(tops, lefts, strict=True)])
    detector = create_detector("fcdd", modality="cube", epochs=epochs, device=device, seed=seed)
    detector.fit(crops, progress=False)
    # Scored tile by tile at the resolution it was trained at (explaining the whole scene would shrink it to the
    # detector's input size); tiles overlap by half and their maps are averaged.
    total, count = np.zeros(cube.shape[1:]), np.zeros(cube.shape[1:])
    windows = [(y, x) for y in _starts(cube.shape[1], side) for x in _starts(cube.shape[2], side)]
    maps = detector.explain([cube[:, y:y + side, x:x + side] for y, x in windows])
    for (y, x), heat in zip(windows, maps, strict=True):
        total[y:y + side, x:x + side] += heat[0]
        count[y:y + side, x:x + side] += 1
    return total / count


def _starts(length: int, side: int) -> list[int]:
    """Tile origins covering ``length`` with tiles of ``side`` overlapping by half (the last one flush)."""
    return sorted({*range(0, length - side + 1, max(1, side // 2)), length - side})


def leave_one_scene_out(aurocs: dict[str, list[float]]) -> dict[str, tuple[int, float]]:
    """Per scene: the grid index with the best mean AUROC on the other scenes (first of equals) and its AUROC here."""
    picks = {}
    for scene in aurocs:
        others = np.mean([values for name, values in aurocs.items() if name != scene], axis=0)
        index = int(np.argmax(others))
        picks[scene] = (index, aurocs[scene][index])
    return picks


def write_gallery(rows: list[tuple[str, np.ndarray, np.ndarray, dict[str, np.ndarray]]],
                  aurocs: dict[str, dict[str, float]], path: Path) -> Path:
    """One row per scene: false colour, the ground-truth map, and each detector's map (99th-percentile scaled)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    columns = 2 + len(rows[0][3])
    fig = Figure(figsize=(2.6 * columns, 2.7 * len(rows)), dpi=100)
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(rows), columns, squeeze=False)
    for row, (scene, cube, truth, heats) in zip(axes, rows, strict=True):
        bands = [round((cube.shape[0] - 1) * f) for f in (0.55, 0.35, 0.15)]
        rgb = np.stack([cube[b] for b in bands], axis=-1).astype(np.float64)
        low, high = np.percentile(rgb, [1, 99], axis=(0, 1))
        row[0].imshow(np.clip((rgb - low) / np.maximum(high - low, 1e-9), 0, 1))
        row[0].set_title(f"{scene}\nfalse colour", fontsize=8)
        row[1].imshow(truth, cmap="gray")
        row[1].set_title(f"anomaly map ({int(truth.sum())} px)", fontsize=8)
        for ax, (name, heat) in zip(row[2:], heats.items(), strict=True):
            ax.imshow(np.clip(heat / np.percentile(heat, 99.5), 0, 1), cmap="inferno")
            ax.set_title(f"{name}\nAUROC {aurocs[scene][name]:.4f}", fontsize=7)
        for ax in row:
            ax.set_xticks([])
            ax.set_yticks([])
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    return path


def markdown(result: dict[str, Any]) -> str:
    r, fcdd = result["results"], result["settings"].get("fcdd", {})
    scenes = list(r["per_scene"])
    lines = ["| detector | " + " | ".join(scenes) + " | **mean** |", "|---|" + "---|" * (len(scenes) + 1)]
    for name in r["mean"]:
        cells = " | ".join(f"{r['per_scene'][s][name]:.4f}" for s in scenes)
        lines.append(f"| seedlens {name} | {cells} | **{r['mean'][name]:.4f}** |")
    lines.append("| LREN (paper) | " + " | ".join(f"{LREN.get(s, float('nan')):.4f}" for s in scenes) +
                 f" | {ANCHORS['LREN (AAAI 2021)']:.4f} |")
    if r.get("gallery"):
        lines += ["", f"Maps beside the ground truth: [{r['gallery']}](results/{r['gallery']})."]
    picks = r.get("loso_picks", {})
    chosen = "; ".join(f"{scene}: {v['components']} components, {v['neighbours']} neighbours, smoothing "
                       f"{v['smoothing']}" for scene, v in picks.items())
    lines += ["", f"Anchors: global RX in the literature ≈ {ANCHORS['global RX (literature)']} (mean), LREN "
              f"{ANCHORS['LREN (AAAI 2021)']}; target ≥ 0.996 and above RX on every scene. "
              + ("Nothing trained but the FCDD row. " if FCDD in r["mean"] else "Nothing trained. ") +
              "Global and local RX: library defaults fixed before any map was looked at. Background kNN (the "
              + ("`rx` detector's `mode: knn`): the ensemble and the leave-one-scene-out rows are the ones judged. "
                 f"The ensemble chooses no setting: it averages the maps of all {len(GRID)} settings of the grid "
                 "(components × neighbours × smoothing, fixed in an earlier session), each scaled by its median "
                 "and MAD over the scene — the library's knn given lists of settings; it came after the maps had "
                 "been looked at (its scaling was picked from three that agree within 0.001), so it is not a blind "
                 "test either. Leave one scene out: each scene gets the best of the grid's settings on the other "
                 f"three ({chosen}). "
                 if ENSEMBLE in r["mean"] else
                 "`rx` detector's `mode: knn`): the leave-one-scene-out row is the one judged — each scene gets the "
                 f"best of {len(GRID)} settings (components × neighbours × smoothing) on the other three "
                 f"({chosen}). ") +
              "The library-default row uses the setting best on all four maps together, so it is tuned on the "
              "very maps it is scored on: optimistic, for reference."
              + (f" Vanilla FCDD: library defaults (spectral backbone, confetti noise, {fcdd['epochs']} "
                 f"epochs), trained on {fcdd['crops']} random crops of up to "
                 f"{fcdd['crop']}×{fcdd['crop']} px of each scene itself (transductive, no map), the "
                 "scene then scored in overlapping tiles of that size at full resolution."
                 if FCDD in r["mean"] else ""), "",
              "What the maps show: global RX finds every target but also lights up sensor stripes (Hydice), road "
              "and bridge edges and building corners (SanDiego); local RX with a 3 / 11 window is sharp on targets "
              "smaller than its guard window (Hydice) and weak on larger ones (planes, roofs), whose own pixels "
              "enter their background. Background kNN darkens the common materials (roads, roofs, water) whose "
              "spectra lie far from the scene mean but have many close neighbours; it still lights the bridge of "
              "Pavia (a rare material in a water scene) and field borders of Hydice; on SanDiego its false "
              "alarms are whole buildings and a square structure that are spectrally as rare as the planes (real "
              "objects, unlabelled), and the last planes' pixels it misses are mixed edge pixels."
              + (" Vanilla FCDD lights textured, common areas (the vegetation of Coast, the field of Hydice) in a "
                 "dotted pattern (the 4-pixel jump of its receptive fields) and misses the targets: trained on one "
                 "scene's crops it learns what confetti blobs look like, not which of the scene's materials are rare."
                 if FCDD in r["mean"] else "")]
    return "\n".join(lines)
