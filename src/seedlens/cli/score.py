"""``seedlens score`` and ``seedlens explain``: apply a saved run to new files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from seedlens.cli._common import console, stdout


def score(
    run: Annotated[Path, typer.Argument(help="Run folder written by `seedlens train`.")],
    paths: Annotated[
        list[Path] | None, typer.Argument(help="Files (or DICOM series folders) to score; or use --hub.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per input on stdout.")] = False,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda or cuda:K.")] = "auto",
    hub: Annotated[str | None, typer.Option(help="Score samples of a hub ('default' for the recorded one).")] = None,
    where: Annotated[str | None, typer.Option(help="Hub query selecting the samples.")] = None,
    to_hub: Annotated[bool, typer.Option(help="Write scores and heatmaps back to the hub as predictions.")] = False,
) -> None:
    """Score each input: higher = more anomalous; `anomalous` means score >= the run's fitted threshold."""
    from seedlens.detectors import load_detector
    from seedlens.errors import ConfigError
    from seedlens.io import read

    detector = load_detector(run, device=device)
    if hub is not None:
        if paths:
            raise ConfigError("give PATH... or --hub, not both")
        keys, scores = _score_hub(detector, run, hub, where, to_hub)
        threshold = detector.threshold_
        _print_scores(keys, scores, threshold, as_json)
        return
    if to_hub:
        raise ConfigError("--to-hub needs --hub (and usually --where)")
    if not paths:
        raise ConfigError("give at least one PATH to score, or --hub")
    arrays = [read(p, modality=detector.modality_)[0] for p in paths]  # type: ignore[attr-defined]
    scores = detector.score(arrays)
    _print_scores([str(p) for p in paths], scores, detector.threshold_, as_json)


def _print_scores(names: list[str], scores: Any, threshold: float, as_json: bool) -> None:
    """Print one JSON object per input, or a table; ``anomalous`` is ``score >= threshold``."""
    from seedlens.evaluation import is_anomalous

    flags = is_anomalous(scores, threshold)
    if as_json:
        for name, value, flag in zip(names, scores, flags, strict=True):
            typer.echo(json.dumps({"path": name, "score": float(value), "anomalous": bool(flag)}))
        return
    table = Table(title=f"scores (threshold {threshold:.4f}; anomalous: score >= threshold)")
    for column in ("path", "score", "anomalous"):
        table.add_column(column)
    for name, value, flag in zip(names, scores, flags, strict=True):
        table.add_row(name, f"{value:.4f}", "yes" if flag else "no")
    stdout.print(table)


def _score_hub(detector: Any, run: Path, hub: str, where: str | None, to_hub: bool) -> tuple[list[str], Any]:
    """Score a hub selection; with ``to_hub`` store scores and heatmaps as predictions of the run's model."""
    from seedlens.cli._common import read_run_info, write_run_info
    from seedlens.config import to_dict
    from seedlens.data.loading import load_record
    from seedlens.hub import Hub, HubSource

    source = HubSource(Hub.open(None) if hub == "default" else hub, where=where, modality=detector.modality_.value)
    records = source.records()
    arrays = [load_record(r, modality=detector.modality_).array for r in records]
    keys = [r.meta.get("key", str(r.path)) for r in records]
    if not to_hub:
        return keys, detector.score(arrays)
    scores, heatmaps = detector.score_and_explain(arrays)
    info = read_run_info(run)
    model_uid = info.get("hub_model") if info.get("hub") == str(source.hub.location) else None
    if model_uid is None:
        model_uid = source.hub.register_model(
            {"detector": detector.name, **to_dict(detector.config_)},
            {"threshold": detector.threshold_},
            name=run.name,
            modality=detector.modality_.value,
        ).uid
        write_run_info(run, {**info, "hub": str(source.hub.location), "hub_model": model_uid})
    written = source.hub.write_predictions(
        model_uid, [(k, float(s), h) for k, s, h in zip(keys, scores, heatmaps, strict=True)]
    )
    console.print(f"wrote {written} predictions of model {model_uid} to {source.hub.location}")
    return keys, scores


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
        score_value, heatmaps = detector.score_and_explain([array], normalize=normalize)
        stem = out / Path(path).name.split(".")[0]
        title = f"{Path(path).name} · score {float(score_value[0]):.3f}"
        written = render_heatmap(array, heatmaps[0], meta, stem, title=title)
        for item in written:
            console.print(f"wrote {item}")
