"""Training from a hub bundle and writing predictions back to the hub, through the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from seedlens.data.synthetic import make_seed_slice
from seedlens.io import write_png


def _cli(*args: str | Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "seedlens", *map(str, args)], capture_output=True, text=True, timeout=300, env=env
    )
    assert result.returncode == 0, f"seedlens {args}:\n{result.stdout}\n{result.stderr}"
    return result


def test_train_from_a_bundle_then_score_back_into_the_hub(tmp_path):
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "config")}
    env.pop("SEEDLENS_HUB", None)
    images = tmp_path / "images"
    images.mkdir()
    rows = ["sample_id,germination,split,lot"]
    for i in range(36):
        defect = None if i < 28 else "void"
        write_png(images / f"seed{i:03d}.png", np.clip(make_seed_slice(32, defect=defect, rng=i).image[0], 0, 1))
        split = "train" if i < 20 else "val" if i < 24 else "test"
        rows.append(f"seed{i:03d},{'normal' if defect is None else 'abnormal'},{split},L{i % 3}")
    (tmp_path / "labels.csv").write_text("\n".join(rows) + "\n")

    _cli("hub", "init", "--url", f"sqlite:///{tmp_path / 'hub.db'}", "--store", tmp_path / "blobs", env=env)
    _cli("hub", "import", images, "--modality", "image", "--labels", tmp_path / "labels.csv", env=env)
    _cli("hub", "bundle", "--where", "split in ('train', 'val')", "--out", tmp_path / "bundle", env=env)
    run = tmp_path / "run"
    _cli(
        "train",
        "--hub",
        tmp_path / "bundle",
        "--out",
        run,
        "--epochs",
        "1",
        "--image-size",
        "32",
        "--no-progress",
        env=env,
    )
    info = json.loads((run / "run.json").read_text())
    assert info["data_hash"] and "bundle" in info["hub"]

    out = _cli("score", run, "--hub", "default", "--where", "split = 'test'", "--to-hub", "--json", env=env)
    lines = [json.loads(line) for line in out.stdout.strip().splitlines()]
    assert sorted(item["path"] for item in lines) == [f"default/seed{i:03d}" for i in range(24, 36)]

    from seedlens.hub import Hub

    hub = Hub.open(f"sqlite:///{tmp_path / 'hub.db'}")
    try:
        model = json.loads((run / "run.json").read_text())["hub_model"]
        predictions = hub.predictions(model=model)
        assert len(predictions) == 12
        assert all(p.heatmap for p in predictions)
        by_sample = {f"{p.project}/{p.sample_id}": p.score for p in predictions}
        assert all(abs(by_sample[item["path"]] - item["score"]) < 1e-6 for item in lines)
    finally:
        hub.close()
