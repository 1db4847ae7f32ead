"""The ``seedlens`` command: a thin layer over the Python API.

Sub-command groups live in their own modules (``cli/hub.py``...) and are attached here. Heavy imports
(torch, the hub) happen inside the commands, so ``seedlens --help`` starts fast.
"""

from __future__ import annotations

import typer

app = typer.Typer(
    name="seedlens",
    help="Explainable anomaly detection and multi-modal prediction for CT, hyperspectral and image scans.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _attach_groups() -> None:
    """Attach the sub-command groups; each module exposes a ``typer.Typer`` named ``app``."""
    from seedlens.cli import hub

    app.add_typer(hub.app, name="hub", help="The data hub: catalog, blob store, REST API, bundles.")


def main() -> None:
    """Entry point of the ``seedlens`` console script."""
    _attach_groups()
    app()
