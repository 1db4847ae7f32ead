"""``seedlens train``: fit a detector on a manifest or dataset folder and save it as a run folder."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from seedlens.cli._common import console, write_run_info


def train(
    data: Annotated[Path, typer.Argument(help="CSV manifest (path,label,split[,mask]) or dataset folder.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Run folder to create (model, config, checkpoints).")],
    normal_class: Annotated[
        str | None, typer.Option(help="Label that is normal; every other label is anomalous (default 'normal').")
    ] = None,
    detector: Annotated[str, typer.Option(help="Detector: fcdd, hsc or autoencoder.")] = "fcdd",
    backbone: Annotated[str | None, typer.Option(help="Backbone name (see `seedlens backbones`).")] = None,
    epochs: Annotated[int | None, typer.Option(help="Training epochs.")] = None,
    image_size: Annotated[int | None, typer.Option(help="Resize inputs to S×S (2D) or S×S×S (3D).")] = None,
    device: Annotated[str | None, typer.Option(help="auto, cpu, cuda or cuda:K.")] = None,
    config: Annotated[
        Path | None, typer.Option(help="YAML file of detector options; flags given here override it.")
    ] = None,
    resume: Annotated[bool, typer.Option(help="Continue an interrupted training of this run folder.")] = False,
    progress: Annotated[bool, typer.Option(help="Show progress bars.")] = True,
) -> None:
    """Train a detector on the normal samples of DATA's train split; the threshold comes from its val split."""
    from seedlens.config import load_yaml
    from seedlens.data import open_source
    from seedlens.detectors import create_detector

    params: dict[str, Any] = load_yaml(config) if config is not None else {}
    for key, value in {"backbone": backbone, "epochs": epochs, "image_size": image_size, "device": device}.items():
        if value is not None:
            params[key] = value
    source = open_source(data, normal_class=normal_class)
    model = create_detector(detector, **params)
    console.print(f"[bold]training[/] {detector} on {data} → {out}")
    model.fit(source, run_dir=out, resume=resume, progress=progress)
    model.save(out)
    write_run_info(out, {"data": str(Path(data).resolve()), "normal_class": source.normal_class})
    history = getattr(model, "history_", [])
    final = f"{history[-1]:.4f}" if history else "n/a"
    console.print(
        f"[green]done[/]: {len(history)} epochs, final loss {final}, threshold {model.threshold_:.4f}; "
        f"saved to {out}"
    )
