"""``seedlens export``: write a trained run's scoring module as a file other runtimes load (ONNX), with its sidecar."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from seedlens.cli._common import console

#: Formats ``--format`` accepts.
FORMATS: tuple[str, ...] = ("onnx",)


def export(
    run: Annotated[Path, typer.Argument(help="Run folder written by `seedlens train` (a deep detector).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="File to write, e.g. model.onnx; the JSON sidecar that "
                                      "says how to preprocess a scan for it goes beside it (model.json).")],
    fmt: Annotated[str, typer.Option("--format", help="Format of the file: onnx.")] = "onnx",
) -> None:
    """Export the run as one graph (network, anomaly map, upsampling, pooling): preprocessed x -> scores, heatmaps.

    The graph takes batches of any size and spatial sizes that are multiples of the network's stride (the sidecar
    says which and how to preprocess a scan); onnxruntime and numpy are enough to run it.
    """
    from seedlens.errors import UnknownNameError

    if fmt not in FORMATS:
        raise UnknownNameError(f"unknown export format {fmt!r}; expected one of: {', '.join(FORMATS)}")
    from seedlens.detectors import load_detector
    from seedlens.inference.export import export_onnx

    detector = load_detector(run, device="cpu")
    for path in export_onnx(detector, out):
        console.print(f"wrote {path}")
