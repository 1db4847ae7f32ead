"""The ``seedlens`` command: a thin layer over the Python API.

Each command lives in its own module; this file attaches them. Heavy imports (torch, the hub) happen
inside the commands, so ``seedlens --help`` starts fast. Errors seedlens raises on purpose are printed as
one clear line (exit code 2), never as a traceback.
"""

from __future__ import annotations

import importlib
import sys

import click
import typer

from seedlens.cli import demo, evaluate, export, info, score, train, view
from seedlens.cli._help import plain_help

app = typer.Typer(
    name="seedlens",
    help="Explainable anomaly detection and multi-modal prediction for CT, hyperspectral and image scans.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.command("train")(train.train)
app.command("score")(score.score)
app.command("explain")(score.explain)
app.command("eval")(evaluate.evaluate)
app.command("export")(export.export)
app.command("demo")(demo.demo)
app.command("view")(view.view)
app.command("backbones")(info.backbones)
app.command("detectors")(info.detectors)
plain_help(app)  # usage lines ``RUN [PATHS]...``, flags without a ``<bool>`` type

_groups_attached = False


def _attach_groups() -> None:
    """Attach the sub-command groups; each module exposes a ``typer.Typer`` named ``app``."""
    global _groups_attached
    if _groups_attached:
        return
    from seedlens.cli import fusion, hub, seeds

    app.add_typer(hub.app, name="hub", help="The data hub: catalog, blob store, REST API, bundles.")
    app.add_typer(fusion.app, name="fusion", help="Multi-modal fusion: predict germination and traits.")
    app.add_typer(seeds.app, name="seeds", help="Split multi-seed scans into one sample per seed; per-seed traits.")
    plain_help(app)
    _groups_attached = True


def _cli_exceptions(name: str) -> tuple[type[BaseException], ...]:
    """``click``'s exception class ``name`` and, where Typer carries its own copy of click (0.29+), Typer's."""
    classes: list[type[BaseException]] = [getattr(click.exceptions, name)]
    for module in ("typer._click.exceptions", "typer.exceptions"):
        try:
            vendored = importlib.import_module(module)
        except ImportError:
            continue
        found = getattr(vendored, name, None)
        if isinstance(found, type) and issubclass(found, BaseException) and found not in classes:
            classes.append(found)
    return tuple(classes)


def main() -> None:
    """Entry point of the ``seedlens`` console script."""
    from seedlens.errors import SeedlensError

    _attach_groups()
    try:
        code = app(standalone_mode=False)
    except _cli_exceptions("ClickException") as err:
        err.show()  # type: ignore[attr-defined]
        sys.exit(err.exit_code)  # type: ignore[attr-defined]
    except SeedlensError as err:
        typer.secho(f"error: {err}", fg=typer.colors.RED, err=True)
        sys.exit(2)
    except FileNotFoundError as err:
        typer.secho(f"error: {err}", fg=typer.colors.RED, err=True)
        sys.exit(2)
    except _cli_exceptions("Exit") as err:
        sys.exit(getattr(err, "exit_code", 0))
    except _cli_exceptions("Abort"):
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)
