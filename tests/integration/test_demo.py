"""`seedlens demo --quick` end to end, and its report opened in headless Chromium."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def quick_demo(tmp_path_factory, worker_id):
    """One ``seedlens demo --quick`` per test session, shared by the xdist workers (the first one runs it)."""
    from filelock import FileLock

    root = tmp_path_factory.getbasetemp() if worker_id == "master" else tmp_path_factory.getbasetemp().parent
    out, record = root / "quick-demo", root / "quick-demo.json"
    with FileLock(str(root / "quick-demo.lock")):
        if not record.is_file():
            result = subprocess.run(
                [sys.executable, "-m", "seedlens", "demo", "--quick", "--out", str(out / "demo"), "--device", "cpu"],
                capture_output=True,
                text=True,
                timeout=240,
            )
            record.write_text(json.dumps({"returncode": result.returncode, "stdout": result.stdout,
                                          "stderr": result.stderr}))
        finished = subprocess.CompletedProcess([], **json.loads(record.read_text()))
    assert finished.returncode == 0, finished.stdout + finished.stderr
    return finished, out / "demo"


def test_quick_demo_finishes_and_prints_its_metrics(quick_demo):
    result, out = quick_demo
    assert "Image AUROC" in result.stdout
    assert re.search(r"Pixel AUROC in object\s*│\s*0\.\d+", result.stdout)
    report = Path(re.search(r"report: (\S+)", result.stdout).group(1))
    assert report.is_file() and report.parent == out / "run"
    assert (out / "run" / "metrics.json").is_file()
    assert list((out / "run" / "heatmaps").glob("*_heatmap.nii.gz")), "volumes get NIfTI heatmaps"


@pytest.mark.browser
def test_demo_report_images_all_load_in_chromium(quick_demo, chromium, tmp_path):
    _, out = quick_demo
    report = out / "run" / "report.html"
    page = chromium.new_page()
    page.goto(report.resolve().as_uri())
    images = page.eval_on_selector_all(
        "img", "els => els.map(e => ({src: e.src.slice(0, 30), ok: e.complete && e.naturalWidth > 0}))"
    )
    page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
    page.close()
    assert len(images) >= 4, images
    assert all(image["ok"] for image in images), images
    assert all(image["src"].startswith("data:image/png;base64") for image in images)


def test_quick_fusion_demo_trains_from_a_hub_and_explains_a_seed(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "seedlens", "demo", "--fusion", "--quick", "--out", str(tmp_path / "f"),
         "--device", "cpu"],
        capture_output=True, text=True, timeout=240,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"germination\s*│\s*macro_f1\s*│\s*0\.\d+", result.stdout)
    explanation = Path(re.search(r"explanation of \S+: (\S+)", result.stdout).group(1))
    assert explanation.is_file() and explanation.stat().st_size > 5000
    assert (tmp_path / "f" / "hub").is_dir() and (tmp_path / "f" / "run" / "metrics.json").is_file()
    assert (explanation.parent / "explanation.json").is_file()
