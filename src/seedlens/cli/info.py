"""``seedlens backbones`` and ``seedlens detectors``: what can be built by name."""

from __future__ import annotations

from typing import Annotated

import typer

from seedlens.cli._common import stdout


def backbones(pattern: Annotated[str, typer.Argument(help="Glob pattern.")] = "*") -> None:
    """List the registered backbones."""
    from seedlens.models import list_backbones

    for name in list_backbones(pattern):
        stdout.print(name)


def detectors(pattern: Annotated[str, typer.Argument(help="Glob pattern.")] = "*") -> None:
    """List the registered detectors."""
    from seedlens.detectors import list_detectors

    for name in list_detectors(pattern):
        stdout.print(name)
