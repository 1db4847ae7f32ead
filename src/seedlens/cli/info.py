"""``seedlens backbones`` and ``seedlens detectors``: what can be built by name, as the registries describe it."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from seedlens.cli._common import console, stdout


def backbones(
    pattern: Annotated[str, typer.Argument(help="Glob pattern.")] = "*",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON (one array of backbones).")] = False,
) -> None:
    """List the registered backbones: the input they take, what each is, pretrained or not."""
    from seedlens.models import BACKBONES

    rows = [BACKBONES.facts(name) for name in BACKBONES.list(pattern)]
    _print(rows, as_json, "backbone", pattern, [
        ("modality", lambda row: str(row["modality"])),
        ("pretrained", lambda row: _yes_no(row["pretrained"])),
    ])


def detectors(
    pattern: Annotated[str, typer.Argument(help="Glob pattern.")] = "*",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON (one array of detectors).")] = False,
) -> None:
    """List the registered detectors: the inputs they take, what each is, whether it trains a network."""
    from seedlens.detectors import DETECTORS

    rows = [DETECTORS.facts(name) for name in DETECTORS.list(pattern)]
    _print(rows, as_json, "detector", pattern, [
        ("modalities", lambda row: ", ".join(row["modalities"])),
        ("needs training", lambda row: _yes_no(row["needs_training"])),
    ])


def _yes_no(value: Any) -> str:
    return "yes" if value else "no"


def _print(rows: list[dict[str, Any]], as_json: bool, kind: str, pattern: str,
           columns: list[tuple[str, Any]]) -> None:
    """Print ``rows`` as JSON or as a table: name, ``columns``, then what each is."""
    from rich.table import Table
    from rich.text import Text

    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        console.print(f"no {kind} matches {pattern!r}")
        return
    table = Table(header_style="bold")
    table.add_column("name", no_wrap=True, style="cyan")
    for title, _ in columns:
        table.add_column(title, no_wrap=True)
    table.add_column("what it is")
    for row in rows:
        table.add_row(row["name"], *(cell(row) for _, cell in columns), Text(row["summary"]))  # no markup
    stdout.print(table)
