"""``seedlens demo`` exits 1 naming the metric, its value and the floor when it misses a quality floor.

The demo's training is replaced by a stub returning fixed metrics: the floors are checked by the same
:func:`~seedlens.workflows.demo.missed_floors` that ``run_demo`` calls, and the CLI's exit code is what is tested.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

from seedlens.cli.main import app
from seedlens.evaluation.results import DetectionMetrics
from seedlens.workflows import demo as demo_workflow
from seedlens.workflows.demo import FLOORS, DemoResult, missed_floors


def _metrics(image_auroc: float, in_mask: float | None) -> DetectionMetrics:
    return DetectionMetrics(image_auroc=image_auroc, f1=0.8, f1_max=0.85, f1_max_threshold=0.5, threshold=0.5,
                            false_positive_rate=0.1, n_normal=40, n_anomalous=40, pixel_auroc=0.9,
                            pixel_auroc_in_mask=in_mask)


def _stub_demo(monkeypatch: pytest.MonkeyPatch, metrics: DetectionMetrics) -> list[bool]:
    """Make ``run_demo`` return ``metrics`` at once (its floors checked as the real one checks them)."""
    calls: list[bool] = []

    def fake_run_demo(out: Path, quick: bool = False, device: str = "auto", **_: object) -> DemoResult:
        calls.append(quick)
        floors = None if quick else FLOORS
        misses = missed_floors(metrics, floors)
        return DemoResult(metrics, Path(out) / "run" / "report.html", Path(out) / "run", Path(out) / "data", 1.0,
                          floors, not misses, misses)

    monkeypatch.setattr(demo_workflow, "run_demo", fake_run_demo)
    return calls


def test_missed_floors_names_each_metric_below_its_floor_in_order():
    assert missed_floors(_metrics(0.95, 0.90), FLOORS) == []
    assert missed_floors(_metrics(0.90, 0.85), FLOORS) == []  # a value equal to its floor meets it
    misses = missed_floors(_metrics(0.842, None), FLOORS)
    assert [(m.metric, m.value, m.floor) for m in misses] == [("image_auroc", 0.842, 0.90),
                                                             ("pixel_auroc_in_mask", None, 0.85)]
    assert str(misses[0]) == "image_auroc = 0.8420, below its floor 0.90"
    assert str(misses[1]) == "pixel_auroc_in_mask = not computed, below its floor 0.85"
    assert [m.metric for m in missed_floors(_metrics(math.nan, 0.9), FLOORS)] == ["image_auroc"]
    assert missed_floors(_metrics(0.1, 0.1), None) == []  # --quick checks no floors


def test_demo_that_misses_a_floor_exits_1_naming_metric_value_and_floor(monkeypatch, tmp_path):
    calls = _stub_demo(monkeypatch, _metrics(0.95, 0.80))
    result = CliRunner().invoke(app, ["demo", "--out", str(tmp_path / "d"), "--device", "cpu"])
    assert calls == [False]
    assert result.exit_code == 1, result.output
    assert "missed a quality floor: pixel_auroc_in_mask = 0.8000, below its floor 0.85" in result.output
    assert "image_auroc = " not in result.output  # the floor it met is not named as missed
    assert "report: " in result.output  # the report is still pointed to


def test_demo_that_meets_its_floors_and_the_quick_demo_exit_0(monkeypatch, tmp_path):
    _stub_demo(monkeypatch, _metrics(0.95, 0.90))
    met = CliRunner().invoke(app, ["demo", "--out", str(tmp_path / "d"), "--device", "cpu"])
    assert met.exit_code == 0, met.output
    assert "missed" not in met.output
    _stub_demo(monkeypatch, _metrics(0.60, 0.55))
    quick = CliRunner().invoke(app, ["demo", "--quick", "--out", str(tmp_path / "q"), "--device", "cpu"])
    assert quick.exit_code == 0, quick.output  # --quick has no floors to miss
