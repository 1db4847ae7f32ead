"""``seedlens view``: a run's samples in the browser, ranked by score, each with its heatmap on top."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from seedlens.cli._common import console


def view(
    run: Annotated[Path, typer.Argument(help="Run folder written by `seedlens train`.")],
    data: Annotated[Path | None, typer.Option(
        help="Manifest or dataset folder to score now (default: the samples of the run's last `seedlens eval`)."
    )] = None,
    split: Annotated[str, typer.Option(help="Split of --data to show.")] = "test",
    normal_class: Annotated[str | None, typer.Option(
        help="Normal label of --data (default: the one the run was trained with).")] = None,
    host: Annotated[str, typer.Option(help="Interface to listen on (the viewer has no sign-in: keep it local).")
                    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port (0: any free one).")] = 8766,
    no_browser: Annotated[bool, typer.Option("--no-browser", help="Only print the address; open nothing.")] = False,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda or cuda:K.")] = "auto",
) -> None:
    """Serve a page listing the samples (sortable, filterable; ROC and score histogram) and open it.

    A fusion run (`seedlens fusion train`) lists the samples of --data with their predictions and shows, per sample,
    the Shapley contribution of each modality and the attribution heatmap of each image-like one.

    Clicking a sample shows it with its heatmap: an image with an opacity slider, a volume in three planes with
    slice sliders and a shared crosshair, a cube in false colour with a band slider and the spectrum of a clicked
    pixel; the ground-truth contour where there is a mask. Heatmaps are computed when a sample is first opened.
    Stop with Ctrl-C.
    """
    import socket
    import webbrowser

    from seedlens.errors import ConfigError

    try:
        import uvicorn

        from seedlens.viewer.run_app import create_run_app
    except ImportError as err:
        raise ConfigError(f"seedlens view needs the web extra: pip install 'seedlens[hub]' ({err})") from err
    from seedlens.viewer.fusion_session import FusionSession, is_fusion_run
    from seedlens.viewer.run_session import RunSession

    session: RunSession | FusionSession
    if is_fusion_run(run):
        if data is None:
            raise ConfigError(f"{run} is a fusion model: give the samples to show with --data MANIFEST")
        session = FusionSession(run, data=data, split=split, device=device)
    else:
        session = RunSession(run, data=data, split=split, normal_class=normal_class, device=device,
                             progress=lambda line: console.print(line))
    app = create_run_app(session)
    listener = socket.create_server((host, port))  # bound before the address is printed: it is the real one
    address = f"http://{host}:{listener.getsockname()[1]}/"
    typer.echo(f"viewing {len(session.rows)} samples of {run} at {address} (Ctrl-C stops)", err=True)  # unwrapped
    if not no_browser:
        webbrowser.open(address)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    server.run(sockets=[listener])
