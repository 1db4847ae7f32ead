"""``seedlens score`` and ``seedlens explain``: apply a saved run to new files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from seedlens.cli._common import console, stdout


def score(
    run: Annotated[Path, typer.Argument(help="Run folder written by `seedlens train`.")],
    paths: Annotated[list[Path], typer.Argument(help="Files (or DICOM series folders) to score.")],
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per input on stdout.")] = False,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda or cuda:K.")] = "auto",
) -> None:
    """Score each input: higher = more anomalous; `anomalous` compares with the run's fitted threshold."""
    from seedlens.detectors import load_detector
    from seedlens.io import read

    detector = load_detector(run, device=device)
    arrays = [read(p, modality=detector.modality_)[0] for p in paths]  # type: ignore[attr-defined]
    scores = detector.score(arrays)
    threshold = detector.threshold_
    if as_json:
        for path, value in zip(paths, scores, strict=True):
            typer.echo(json.dumps({"path": str(path), "score": float(value), "anomalous": bool(value > threshold)}))
        return
    table = Table(title=f"scores (threshold {threshold:.4f})")
    for column in ("path", "score", "anomalous"):
        table.add_column(column)
    for path, value in zip(paths, scores, strict=True):
        table.add_row(str(path), f"{value:.4f}", "yes" if value > threshold else "no")
    stdout.print(table)


def explain(
    run: Annotated[Path, typer.Argument(help="Run folder written by `seedlens train`.")],
    paths: Annotated[list[Path], typer.Argument(help="Files (or DICOM series folders) to explain.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the heatmaps.")],
    normalize: Annotated[
        str, typer.Option(help="global (comparable across samples) or local (each map by its own range).")
    ] = "global",
    device: Annotated[str, typer.Option(help="auto, cpu, cuda or cuda:K.")] = "auto",
) -> None:
    """Write a heatmap per input: PNG overlay (images), tri-planar PNG + NIfTI (volumes), false colour (cubes)."""
    from seedlens.detectors import load_detector
    from seedlens.errors import ConfigError
    from seedlens.io import read
    from seedlens.workflows.rendering import render_heatmap

    if normalize not in ("global", "local"):
        raise ConfigError(f"--normalize must be 'global' or 'local'; got {normalize!r}")
    detector = load_detector(run, device=device)
    for path in paths:
        array, meta = read(path, modality=detector.modality_)  # type: ignore[attr-defined]
        score_value, heatmaps = detector.score_and_explain([array], normalize=normalize)  # type: ignore[attr-defined]
        stem = out / Path(path).name.split(".")[0]
        title = f"{Path(path).name} · score {float(score_value[0]):.3f}"
        written = render_heatmap(array, heatmaps[0], meta, stem, title=title)
        for item in written:
            console.print(f"wrote {item}")
