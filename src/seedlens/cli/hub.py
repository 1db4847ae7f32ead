"""``seedlens hub ...`` commands (placeholder group; the hub work fills it)."""

from __future__ import annotations

import typer

app = typer.Typer(no_args_is_help=True)
