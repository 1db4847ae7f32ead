"""The benchmark harness end to end on tiny synthetic data (no ../shared/data needed): JSON + Markdown table."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

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
    bench("run", "hsi_scenes", "--data-root", tmp_path / "data", "--out-dir", out, "--tag", "tiny")
    result = json.loads((out / "hsi_scenes-tiny.json").read_text())
    assert set(result["results"]["per_scene"]) == {"Hydice", "Pavia (ABU beach 4)", "Coast (ABU urban 2)",
                                                    "SanDiego"}
    assert result["results"]["mean"]["global RX"] > 0.95  # three obvious targets per scene
    assert {"machine", "git_commit", "wall_time_s", "settings"} <= set(result)
    assert (out / "hsi_scenes_gallery.png").stat().st_size > 10_000
    table = (tmp_path / "bench" / "RESULTS.md").read_text()
    assert "| seedlens global RX |" in table and "LREN (paper)" in table


def test_fusion_harness_on_a_tiny_synthetic_set(tmp_path):
    out = tmp_path / "bench" / "results"
    bench("run", "fusion", "--device", "cpu", "--epochs", "1", "--n-train", "24", "--n-val", "8", "--n-test", "16",
          "--skip-concat", "--out-dir", out)
    result = json.loads((out / "fusion.json").read_text())["results"]
    assert set(result["runs"][0]["single"]) == {"ct", "hsi", "rgb", "table"}
    assert 0 <= result["summary"]["fused"] <= 1 and "late_fusion" in result["summary"]
    assert "fused (attention)" in (tmp_path / "bench" / "RESULTS.md").read_text()
