"""Evaluation reports: one self-contained HTML file, and a metrics table on the console."""

from __future__ import annotations

import base64
import html
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from string import Template
from typing import TYPE_CHECKING, Any

from seedlens.errors import ReadError
from seedlens.evaluation._files import atomic_write_bytes
from seedlens.evaluation._format import format_value, metric_rows
from seedlens.evaluation.results import DetectionMetrics

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["print_metrics_table", "write_report_html"]

_MIME = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif", ".svg": "image/svg+xml"}


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _metrics_html(metrics: Mapping[str, Any] | DetectionMetrics) -> str:
    rows = "\n".join(
        f'<tr><td>{_esc(name)}</td><td class="num">{_esc(value)}</td><td class="note">{_esc(meaning)}</td></tr>'
        for name, value, meaning in metric_rows(metrics)
    )
    head = "<thead><tr><th>metric</th><th>value</th><th>meaning</th></tr></thead>"
    return f"<table>\n{head}\n<tbody>\n{rows}\n</tbody>\n</table>"


def _table_html(title: str, rows: Sequence[Mapping[str, Any]]) -> str:
    columns: list[str] = []
    for row in rows:
        columns.extend(str(k) for k in row if str(k) not in columns)
    head = "".join(f"<th>{_esc(c)}</th>" for c in columns)
    body = []
    for row in rows:
        cells = {str(k): v for k, v in row.items()}
        tds = "".join(
            f'<td class="num">{_esc(format_value(cells.get(c)))}</td>'
            if _is_number(cells.get(c))
            else f"<td>{_esc(format_value(cells.get(c)))}</td>"
            for c in columns
        )
        body.append(f"<tr>{tds}</tr>")
    rows_html = "\n".join(body)
    return (
        f"<section>\n<h2>{_esc(title)}</h2>\n<table>\n<thead><tr>{head}</tr></thead>\n"
        f"<tbody>\n{rows_html}\n</tbody>\n</table>\n</section>"
    )


def _figure_html(caption: str, path: Path) -> str:
    if not path.is_file():
        raise ReadError(path, f"figure {caption!r} not found")
    mime = _MIME.get(path.suffix.lower())
    if mime is None:
        raise ReadError(path, f"figure {caption!r} must be one of {', '.join(sorted(_MIME))}; got {path.suffix!r}")
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return (
        f'<figure><img src="data:{mime};base64,{data}" alt="{_esc(caption)}">'
        f"<figcaption>{_esc(caption)}</figcaption></figure>"
    )


def _flatten(settings: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    items: list[tuple[str, Any]] = []
    for key, value in settings.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            items.extend(_flatten(value, f"{name}."))
        else:
            items.append((name, value))
    return items


def _settings_html(settings: Mapping[str, Any]) -> str:
    rows = "\n".join(
        f"<tr><td><code>{_esc(k)}</code></td><td><code>{_esc(format_value(v))}</code></td></tr>"
        for k, v in _flatten(settings)
    )
    return (
        '<section id="settings">\n<h2>Settings</h2>\n<table>\n<thead><tr><th>setting</th><th>value</th></tr></thead>\n'
        f"<tbody>\n{rows}\n</tbody>\n</table>\n</section>"
    )


def write_report_html(
    path: str | Path,
    title: str,
    metrics: Mapping[str, Any] | DetectionMetrics,
    figures: Sequence[tuple[str, str | Path]] = (),
    settings: Mapping[str, Any] | None = None,
    tables: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
) -> Path:
    """Write a single self-contained HTML report: metric table, extra tables, embedded figures, settings.

    Figures are embedded as base64 data URIs and the CSS is inline, so the file can be mailed or
    archived alone. The file is written atomically (a reader never sees half a report).

    Args:
        path: HTML file to write; parent folders are created.
        title: Report title.
        metrics: A :class:`DetectionMetrics` or a flat dict of metric name -> value.
        figures: ``(caption, image path)`` pairs; PNG, JPEG, GIF or SVG.
        settings: Run settings (nested dicts are flattened to dotted keys), or None.
        tables: Extra tables, ``{title: [row dict, ...]}`` (e.g. AUROC per subset); columns are the
            union of the row keys in order of appearance.

    Returns:
        ``path`` as a ``Path``.

    Raises:
        ReadError: when a figure file is missing or not an image type that can be embedded.
    """
    from seedlens import __version__

    figures_html = ""
    if figures:
        items = "\n".join(_figure_html(caption, Path(fig)) for caption, fig in figures)
        figures_html = f'<section id="figures">\n<h2>Figures</h2>\n<div class="figures">\n{items}\n</div>\n</section>'
    tables_html = "\n".join(_table_html(name, rows) for name, rows in (tables or {}).items())
    template = Template(resources.files("seedlens.evaluation").joinpath("templates/report.html").read_text("utf-8"))
    document = template.substitute(
        title=_esc(title),
        version=_esc(__version__),
        generated=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        metrics=_metrics_html(metrics),
        tables=tables_html,
        figures=figures_html,
        settings=_settings_html(settings) if settings else "",
    )
    return atomic_write_bytes(Path(path), document.encode("utf-8"))


def print_metrics_table(
    metrics: Mapping[str, Any] | DetectionMetrics,
    console: Console | None = None,
    title: str = "Metrics",
) -> None:
    """Print the metrics as a table on a rich console.

    Args:
        metrics: A :class:`DetectionMetrics` or a flat dict of metric name -> value.
        console: A ``rich.console.Console``; default a new one on stdout.
        title: Table title.
    """
    from rich.console import Console
    from rich.table import Table

    out = console if console is not None else Console()
    explain = out.width >= 110  # the meaning column only where it fits without wrapping every row
    table = Table(title=title, title_justify="left", header_style="bold")
    table.add_column("metric", no_wrap=True)
    table.add_column("value", justify="right", style="cyan")
    if explain:
        table.add_column("meaning", style="dim")
    for name, value, meaning in metric_rows(metrics):
        table.add_row(*((name, value, meaning) if explain else (name, value)))
    out.print(table)
