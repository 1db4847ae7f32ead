"""ROC / histogram figures, the HTML report and the console table."""

from __future__ import annotations

import base64
import io
import re

import numpy as np
import pytest
from PIL import Image
from rich.console import Console

from seedlens.errors import ReadError
from seedlens.evaluation import (
    compute_detection_metrics,
    plot_roc,
    plot_score_histogram,
    print_metrics_table,
    write_report_html,
)


@pytest.fixture(scope="module")
def scores():
    rng = np.random.default_rng(0)
    y = np.r_[np.zeros(40, int), np.ones(20, int)]
    s = np.r_[rng.normal(0, 1, 40), rng.normal(1.5, 1, 20)]
    return y, s


def _is_png(path):
    with Image.open(path) as im:
        return im.format == "PNG" and im.size[0] > 200 and im.size[1] > 200


def test_plots_write_png_files(tmp_path, scores):
    y, s = scores
    roc = plot_roc(y, s, tmp_path / "figs" / "roc.png", title="test", threshold=1.0)
    hist = plot_score_histogram(y, s, 1.0, tmp_path / "hist.png")
    assert roc == tmp_path / "figs" / "roc.png" and _is_png(roc)
    assert _is_png(hist)
    assert not list(tmp_path.rglob("*.tmp"))  # atomic writes leave no temporary files


def test_plot_roc_needs_both_classes(tmp_path):
    with pytest.raises(ValueError, match="got 3 normal and 0 anomalous"):
        plot_roc([0, 0, 0], [0.1, 0.2, 0.3], tmp_path / "roc.png")


def test_report_embeds_every_figure_and_shows_the_metrics(tmp_path, scores):
    y, s = scores
    metrics = compute_detection_metrics(y, s, 1.0, score_pooling="max")
    figures = [
        ("ROC <curve>", plot_roc(y, s, tmp_path / "roc.png", threshold=1.0)),
        ("Scores", plot_score_histogram(y, s, 1.0, tmp_path / "hist.png")),
    ]
    out = write_report_html(
        tmp_path / "out" / "report.html",
        "Run & report",
        metrics,
        figures,
        settings={"detector": "fcdd", "preprocess": {"size": [64, 64]}},
        tables={"AUROC per subset": [{"subset": "ucsd", "auroc": 0.8123456}, {"subset": "soares", "n": 3}]},
    )
    text = out.read_text("utf-8")
    assert text.count('<img src="data:image/png;base64,') == 2
    embedded = re.findall(r'src="data:image/png;base64,([^"]+)"', text)
    assert base64.b64decode(embedded[0]) == (tmp_path / "roc.png").read_bytes()
    assert f"{metrics.image_auroc:.4f}" in text and f"{metrics.f1_max:.4f}" in text
    assert "Image AUROC" in text and "max" in text
    assert "Run &amp; report" in text and "ROC &lt;curve&gt;" in text  # escaped
    assert "preprocess.size" in text and "0.8123" in text and "soares" in text
    assert "<link" not in text and "<script" not in text  # self-contained
    Image.open(io.BytesIO(base64.b64decode(embedded[1]))).verify()


def test_report_accepts_a_plain_dict_and_names_a_missing_figure(tmp_path):
    out = write_report_html(tmp_path / "r.html", "t", {"mae": 0.25, "r2": 0.5})
    assert "0.2500" in out.read_text("utf-8")
    with pytest.raises(ReadError, match=r"missing\.png"):
        write_report_html(tmp_path / "r2.html", "t", {"mae": 0.25}, [("x", tmp_path / "missing.png")])
    assert not (tmp_path / "r2.html").exists()


def test_print_metrics_table(scores):
    y, s = scores
    metrics = compute_detection_metrics(y, s, 1.0)
    console = Console(record=True, width=140)
    print_metrics_table(metrics, console=console)
    text = console.export_text()
    assert "Image AUROC" in text and f"{metrics.image_auroc:.4f}" in text and "meaning" in text
    narrow = Console(record=True, width=60)
    print_metrics_table({"image_auroc": 0.5}, console=narrow)
    assert "0.5000" in narrow.export_text()


def test_report_settings_say_what_an_automatic_budget_came_to():
    from types import SimpleNamespace

    from seedlens.detectors.config import DeepDetectorConfig
    from seedlens.workflows.evaluate import report_settings

    def detector(budget, epochs=None):
        return SimpleNamespace(name="fcdd", config_=DeepDetectorConfig(epochs=epochs), threshold_=1.5, budget_=budget)

    assert report_settings(detector({"epochs": 30, "samples_per_epoch": 560}))["epochs"] == \
        "auto: 30 passes of 560 samples"
    assert report_settings(detector(None))["epochs"] == "auto (at least 500 steps)"  # saved before budgets
    given = report_settings(detector({"epochs": 12, "samples_per_epoch": 40}, epochs=12))
    assert given["epochs"] == 12 and given["threshold"] == 1.5 and given["detector"] == "fcdd"
