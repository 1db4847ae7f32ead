"""Real 3D scans with lesion masks, the one-class voxel protocol: FCDD at native resolution beside global RX.

Data (``DATA_ROOT/ct-lesions``, see its README):

* ``brats-mri``: BraTS 2015 brain MRI, FLAIR (z-scored inside the brain by the data set), 240×240×155 at 1 mm;
  fixed split train 2 / validation 2 / test 2 cases; tumour = ``OTMultiClass > 0``; the brain mask is the object.
* ``sarcoma-ct``: soft-tissue sarcoma CT in HU, crops of 3 patients, 0.98×0.98×3.27 mm; tumour mask; leave one
  patient out (train on the other two). The object is the automatic foreground (the limb, holes filled).

Protocol: the detector trains on the *lesion-free tissue* of the training scans — every training row carries its
lesion mask while the detector is one-class, so its patches never touch a lesion voxel — plus synthetic confetti;
it scores every voxel of the test scans at native resolution (sliding window; no resizing), and voxel AUROC inside
the object and AUPRO (3D components, FPR ≤ 0.3, normal voxels inside the object) are reported per case and pooled.
The detector's threshold is fitted on the BraTS validation cases / the sarcoma training scans (whole scans, lesions
included): it is not used by the voxel metrics.

Baseline on the same voxels: global RX fitted on the training scans (all their voxels, lesions included; for one
channel RX is the squared z-score of the voxel against the training intensities). The knn detector works on 2D
images only and has no row here.
"""

from __future__ import annotations

import argparse
import csv
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

DEFAULT_EPOCHS = None  # the library's automatic budget (30 passes, at least 500 steps)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sets", default="brats,sarcoma", help="comma-separated: brats, sarcoma")
    parser.add_argument("--patch-size", type=int, default=32)
    parser.add_argument("--width", default="16,32,64", help="fcdd3d channels (the demo's half width)")


def _fcdd_options(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "epochs": args.epochs,
        "patch_size": args.patch_size,
        "batch_size": 16,
        "device": args.device,
        "seed": 0,
        "supervision": "map",
        "backbone_options": {"channels": [int(c) for c in args.width.split(",")]},
    }


def _binary(path: Path, out: Path, reference: Path) -> Path:
    """Write ``path > 0`` as a uint8 NIfTI with the affine of ``reference``."""
    from seedlens.io import read, write_nifti

    array, _ = read(path, modality="volume")
    _, meta = read(reference, modality="volume")
    write_nifti(out, (np.asarray(array[0]) > 0).astype(np.uint8), affine=meta.affine)
    return out


def _foreground(path: Path, out: Path) -> Path:
    """Write the automatic object mask of a scan (Otsu, holes filled) as a uint8 NIfTI."""
    from seedlens.data.transforms.foreground import object_mask
    from seedlens.io import read, write_nifti

    array, meta = read(path, modality="volume")
    write_nifti(out, object_mask(np.asarray(array, dtype=np.float32)).astype(np.uint8), affine=meta.affine)
    return out


def _write_manifest(path: Path, rows: list[dict[str, Any]]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["path", "label", "split", "mask", "object_mask", "case"])
        writer.writeheader()
        writer.writerows(rows)
    return path


def _voxel_metrics(detector: Any, cases: list[dict[str, Any]], gallery: Path | None = None) -> dict[str, Any]:
    """Voxel AUROC inside the object and AUPRO per test case and pooled, from raw maps on each scan's grid.

    With ``gallery``, the first case's heatmap (scaled to its own range) is drawn there, tri-planar at the scan's
    voxel size, the lesion outlined.
    """
    from seedlens.evaluation import aupro, pixel_auroc
    from seedlens.explain import normalize_local
    from seedlens.explain.render import volume_triplanar_png
    from seedlens.io import read

    masks, maps, regions = [], [], []
    per_case: dict[str, Any] = {}
    started = time.perf_counter()
    for case in cases:
        array, meta = read(case["image"], modality="volume")
        heat = detector.explain([array], spacing=[meta.spacing])[0]
        if gallery is not None and not per_case:
            lesion = np.asarray(read(case["mask"], modality="volume")[0]) > 0
            volume_triplanar_png(array, normalize_local(heat[None])[0], gallery, mask=lesion[0], spacing=meta.spacing,
                                 title=f"{case['name']} · {detector.name}")
        mask = np.asarray(read(case["mask"], modality="volume")[0]) > 0
        region = np.asarray(read(case["object"], modality="volume")[0]) > 0
        per_case[case["name"]] = {
            "voxel_auroc_in_object": pixel_auroc([mask], [heat], region=[region]),
            "aupro": aupro([mask], [heat], region=[region]),
            "lesion_share_of_object": float(mask[region].mean()),
        }
        masks.append(mask)
        maps.append(heat.astype(np.float32))
        regions.append(region)
    return {
        "per_case": per_case,
        "voxel_auroc_in_object": pixel_auroc(masks, maps, region=regions),
        "aupro": aupro(masks, maps, region=regions),
        "score_seconds": round(time.perf_counter() - started, 1),
    }


def _train_and_score(manifest: Path, test: list[dict[str, Any]], args: argparse.Namespace,
                     run_dir: Path, gallery: str | None = None) -> dict[str, Any]:
    from seedlens.data import open_source
    from seedlens.detectors import FCDD, RX

    source = open_source(manifest)
    rows: dict[str, Any] = {}
    started = time.perf_counter()
    fcdd = FCDD(**_fcdd_options(args)).fit(source, run_dir=run_dir, progress=False)
    train_s = time.perf_counter() - started
    out = Path(args.out_dir)
    rows["fcdd"] = {**_voxel_metrics(fcdd, test, out / f"{gallery}_fcdd.png" if gallery else None),
                    "train_seconds": round(train_s, 1), "plan": fcdd.plan_, "budget": fcdd.budget_}
    started = time.perf_counter()
    rx = RX(modality="volume", score_pooling="topk").fit(source, progress=False)
    rows["rx"] = {**_voxel_metrics(rx, test, out / f"{gallery}_rx.png" if gallery else None),
                  "train_seconds": round(time.perf_counter() - started, 1)}
    return rows


def _brats(root: Path, tmp: Path, args: argparse.Namespace) -> dict[str, Any]:
    data = root / "ct-lesions" / "brats-mri"
    cases: dict[str, list[dict[str, Any]]] = {}
    for split in ("train", "validation", "test"):
        for folder in sorted((data / split).iterdir()):
            image = folder / "Flair_subtrMeanDivStd.nii.gz"
            mask = _binary(folder / "OTMultiClass.nii.gz", tmp / f"{folder.name}_lesion.nii.gz", image)
            brain = _binary(folder / "brainmask.nii.gz", tmp / f"{folder.name}_brain.nii.gz", image)
            cases.setdefault(split, []).append({"name": folder.name, "image": image, "mask": mask, "object": brain})
    rows = [{"path": str(c["image"]), "label": "normal", "split": "train" if split == "train" else "val",
             "mask": str(c["mask"]), "object_mask": str(c["object"]), "case": c["name"]}
            for split in ("train", "validation") for c in cases[split]]
    manifest = _write_manifest(tmp / "brats.csv", rows)
    return {"cases": {s: [c["name"] for c in v] for s, v in cases.items()},
            **_train_and_score(manifest, cases["test"], args, tmp / "brats-run", gallery="ct_lesions_brats")}


def _sarcoma(root: Path, tmp: Path, args: argparse.Namespace) -> dict[str, Any]:
    data = root / "ct-lesions" / "sarcoma-ct"
    cases: list[dict[str, Any]] = []
    for folder in sorted(p for p in data.iterdir() if p.is_dir()):
        image = folder / "CT" / "nifti" / "image" / "image.nii.gz"
        mask = _binary(folder / "CT" / "nifti" / "mask" / "mask.nii.gz", tmp / f"{folder.name}_lesion.nii.gz", image)
        body = _foreground(image, tmp / f"{folder.name}_body.nii.gz")
        cases.append({"name": folder.name, "image": image, "mask": mask, "object": body})
    folds: dict[str, Any] = {}
    for held in cases:
        train = [c for c in cases if c is not held]
        rows = [{"path": str(c["image"]), "label": "normal", "split": split, "mask": str(c["mask"]),
                 "object_mask": str(c["object"]), "case": c["name"]} for split in ("train", "val") for c in train]
        manifest = _write_manifest(tmp / f"sarcoma-{held['name']}.csv", rows)
        folds[held["name"]] = _train_and_score(manifest, [held], args, tmp / f"sarcoma-run-{held['name']}",
                                               gallery="ct_lesions_sarcoma" if not folds else None)
    pooled = {method: {
        "voxel_auroc_in_object": float(np.mean([f[method]["voxel_auroc_in_object"] for f in folds.values()])),
        "aupro": float(np.mean([f[method]["aupro"] for f in folds.values()])),
    } for method in ("fcdd", "rx")}
    return {"folds": folds, "mean_over_folds": pooled}


def run(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, Any]]:
    root = Path(args.data_root)
    sets = [s.strip() for s in args.sets.split(",") if s.strip()]
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in sets:
            started = time.perf_counter()
            folder = Path(tmp) / name
            folder.mkdir()
            results[name] = {"brats": _brats, "sarcoma": _sarcoma}[name](root, folder, args)
            results[name]["seconds"] = round(time.perf_counter() - started, 1)
            print(f"{name}: done in {results[name]['seconds']:.0f} s", flush=True)
    settings = {"sets": sets, "fcdd": _fcdd_options(args), "rx": {"mode": "global", "fit_on": "train"},
                "brats_channel": "FLAIR", "data_root": str(root)}
    return settings, results


def markdown(result: dict[str, Any]) -> str:
    r = result["results"]
    lines = ["| set | method | voxel AUROC in object | AUPRO (FPR ≤ 0.3) | per case (voxel AUROC) |",
             "|---|---|---|---|---|"]
    if "brats" in r:
        for method in ("fcdd", "rx"):
            row = r["brats"][method]
            cases = ", ".join(f"{k[-6:]} {v['voxel_auroc_in_object']:.3f}" for k, v in row["per_case"].items())
            lines.append(f"| BraTS FLAIR (2 test cases) | {method} | {row['voxel_auroc_in_object']:.3f} | "
                         f"{row['aupro']:.3f} | {cases} |")
    if "sarcoma" in r:
        for method in ("fcdd", "rx"):
            mean = r["sarcoma"]["mean_over_folds"][method]
            cases = ", ".join(f"{k} {f[method]['voxel_auroc_in_object']:.3f}" for k, f in r["sarcoma"]["folds"].items())
            lines.append(f"| sarcoma CT (leave one of 3 out) | {method} | {mean['voxel_auroc_in_object']:.3f} | "
                         f"{mean['aupro']:.3f} | {cases} |")
    from bench._common import RESULTS_DIR

    names = ("ct_lesions_brats_fcdd", "ct_lesions_brats_rx", "ct_lesions_sarcoma_fcdd")
    pictures = [f"![{name}](results/{name}.png)" for name in names if (RESULTS_DIR / f"{name}.png").is_file()]
    lines += ["", *pictures, "",
              "FCDD trains on the lesion-free tissue of the training scans (patches off the lesion masks) at "
              "their native voxel size; RX is fitted on all training voxels. Objects: the brain mask (BraTS), the "
              "automatic foreground (sarcoma)."]
    return "\n".join(lines)
