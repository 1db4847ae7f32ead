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
    fusion: Annotated[
        bool, typer.Option(help="Run the multi-modal fusion demo instead (CT + hyperspectral + RGB + table).")
    ] = False,
) -> None:
    """Make seed phantoms, train a 3D FCDD on normals + confetti noise, evaluate on real defect types, report.

    Exits with code 1 when the full demo misses one of its quality floors (--quick checks none).

    With --fusion: make multi-modal seeds, store them in a SQLite hub, train a fused germination/trait model from
    it, evaluate it on held-out seeds per modality subset and explain one prediction.
    """
    if fusion:
        _fusion_demo(out, quick, device)
        return
    from seedlens.evaluation import print_metrics_table
    from seedlens.workflows.demo import run_demo

    result = run_demo(out, quick=quick, device=device, log=console.print)
    print_metrics_table(result.metrics, console=stdout)
    status = "[green]met[/]" if result.floors_met else "[red]missed[/] (see bench/RESULTS.md)"
    if result.floors is not None:
        console.print(f"quality floors {result.floors}: {status}")
    console.print(f"finished in {result.seconds:.0f} s")
    stdout.print(f"report: {result.report_path}", soft_wrap=True)
    if result.misses:
        for miss in result.misses:
            console.print(f"[red]error:[/] the demo missed a quality floor: {miss}", soft_wrap=True, highlight=False)
        raise typer.Exit(1)


def _fusion_demo(out: Path, quick: bool, device: str) -> None:
    from seedlens.cli.fusion import print_fusion_tables
    from seedlens.workflows.fusion_demo import run_fusion_demo

    result = run_fusion_demo(out, quick=quick, device=device, log=console.print)
    print_fusion_tables(result.metrics)
    console.print(f"finished in {result.seconds:.0f} s")
    stdout.print(f"explanation of {result.explained_sample}: {result.explanation_path}", soft_wrap=True)
