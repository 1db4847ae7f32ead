"""``seedlens demo``: the whole job on synthetic seed CT phantoms, on embedded defaults."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from seedlens.cli._common import console, stdout


def demo(
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for data, run and report.")] = Path("seedlens-demo"),
    quick: Annotated[bool, typer.Option(help="A smaller, faster run (about a minute); no quality floors.")] = False,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda or cuda:K.")] = "auto",
) -> None:
    """Make seed phantoms, train a 3D FCDD on normals + confetti noise, evaluate on real defect types, report."""
    from seedlens.evaluation import print_metrics_table
    from seedlens.workflows.demo import run_demo

    result = run_demo(out, quick=quick, device=device, log=console.print)
    print_metrics_table(result.metrics, console=stdout)
    status = "[green]met[/]" if result.floors_met else "[red]missed[/] (see bench/RESULTS.md)"
    if result.floors is not None:
        console.print(f"quality floors {result.floors}: {status}")
    console.print(f"finished in {result.seconds:.0f} s")
    stdout.print(f"report: {result.report_path}")
