"""``seedlens eval``: evaluate a saved run on a data source's test split."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from seedlens.cli._common import console, read_run_info, stdout


def evaluate(
    run: Annotated[Path, typer.Argument(help="Run folder written by `seedlens train`.")],
    data: Annotated[Path, typer.Argument(help="CSV manifest or dataset folder.")],
    normal_class: Annotated[
        str | None, typer.Option(help="Normal label (default: the one the run was trained with).")
    ] = None,
    split: Annotated[str, typer.Option(help="Split to evaluate.")] = "test",
    gallery: Annotated[int, typer.Option(help="Heatmaps to render into the report.")] = 8,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda or cuda:K.")] = "auto",
) -> None:
    """Write RUN/metrics.json, RUN/report.html and figures, and print the metrics table."""
    from seedlens.data import open_source
    from seedlens.detectors import load_detector
    from seedlens.evaluation import print_metrics_table
    from seedlens.workflows.evaluate import evaluate_detector

    detector = load_detector(run, device=device)
    normal = normal_class or read_run_info(run).get("normal_class")
    source = open_source(data, normal_class=normal)
    result = evaluate_detector(detector, source, run, split=split, gallery=gallery, title=f"seedlens · {run.name}")
    print_metrics_table(result.metrics, console=stdout)
    console.print(f"metrics: {result.metrics_path}\nreport:  {result.report_path}")
