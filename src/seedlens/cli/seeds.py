"""``seedlens seeds``: split a multi-seed scan into one sample per seed, and report per-seed traits."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Annotated

import typer

from seedlens.cli._common import console, stdout

app = typer.Typer(no_args_is_help=True, help="From a lab's raw scans to one sample per seed.")


def parse_threshold(value: str) -> str | float:
    """A ``--threshold`` value: a number, or a method name left for the library to check."""
    try:
        return float(value)
    except ValueError:
        return value


def _spacing(value: str | None) -> tuple[float, ...] | None:
    if value is None:
        return None
    from seedlens.errors import ConfigError

    try:
        parts = tuple(float(p) for p in value.replace("x", ",").split(","))
    except ValueError as err:
        raise ConfigError(f"--spacing must be one number or D,H,W in mm (e.g. 0.05 or 0.05,0.05,0.1); "
                          f"got {value!r}") from err
    return parts * 3 if len(parts) == 1 else parts


def _index(value: str) -> object:
    if value == "brightness":
        return value
    if "/" in value:
        a, b = value.split("/", 1)
        return (float(a), float(b))
    return float(value)


@app.command("split")
def split(
    scan: Annotated[Path, typer.Argument(help="CT scan (TIFF stack, NIfTI, DICOM folder...) or a raw ENVI frame.")],
    out: Annotated[Path, typer.Option("--out", help="Folder to write one file (and mask) per seed into.")],
    white: Annotated[Path | None, typer.Option(help="Hyperspectral: white reference (ENVI).")] = None,
    dark: Annotated[Path | None, typer.Option(help="Hyperspectral: dark reference (ENVI).")] = None,
    white_region: Annotated[str | None, typer.Option(
        help="Hyperspectral: a white tile in the frame instead of --white, as y0:y1,x0:x1.")] = None,
    dark_region: Annotated[str | None, typer.Option(
        help="Hyperspectral: a black tile in the frame instead of --dark, as y0:y1,x0:x1.")] = None,
    threshold: Annotated[str, typer.Option(
        help="CT: auto, multiotsu (air / chaff / grain), otsu (air / grain) or an intensity.")] = "auto",
    grain_size: Annotated[float | None, typer.Option(
        help="CT: typical grain width in voxels; larger merges more, smaller splits more (default: estimated)."),
    ] = None,
    min_volume: Annotated[float | None, typer.Option(
        help="CT: smallest grain in voxels (default: a quarter of the median).")] = None,
    surround: Annotated[str, typer.Option(
        help="CT: what the grains meet: air (threshed), husk (hulled, in an ear) or auto.")] = "auto",
    spacing: Annotated[str | None, typer.Option(
        help="CT: voxel size in mm, one number or D,H,W (default: the file's, if it records one).")] = None,
    margin: Annotated[int, typer.Option(help="CT: voxels of context around each grain.")] = 3,
    index: Annotated[str, typer.Option(
        help="Hyperspectral: segment on 'brightness', a band in nm (850) or a normalised difference (800/670).")]
        = "brightness",
    dark_seeds: Annotated[bool, typer.Option("--dark-seeds", help="Hyperspectral: seeds darker than the tray.")]
        = False,
    scan_id: Annotated[str | None, typer.Option(help="Name of the scan (default: the file name).")] = None,
) -> None:
    """Split a scan of many seeds: CT grains (one NIfTI + mask each) or a hyperspectral tray (calibrated cubes)."""
    from seedlens.errors import ConfigError

    has_white, has_dark = white is not None or white_region is not None, dark is not None or dark_region is not None
    if has_white != has_dark:
        raise ConfigError("a hyperspectral tray needs both a white and a dark reference "
                          "(--white or --white-region, --dark or --dark-region)")
    if has_white and has_dark:
        from seedlens.seeds import split_tray_files
        from seedlens.seeds.hsi import parse_region

        tray = split_tray_files(scan, white, dark, out, tray_id=scan_id, index=_index(index), dark_seeds=dark_seeds,
                                white_region=parse_region(white_region) if white_region else None,
                                dark_region=parse_region(dark_region) if dark_region else None)
        if tray.calibration.bad_bands:
            console.print("[yellow]bad bands[/yellow] (set to 0): " + ", ".join(
                f"{b} ({why})" for b, why in sorted(tray.calibration.bad_bands.items())))
        stdout.print(f"{len(tray.seeds)} seeds from {scan} -> {out} (seeds.csv, spectra.csv, split.json)")
        return
    from seedlens.seeds import split_ct_file

    result = split_ct_file(scan, out, scan_id=scan_id, spacing=_spacing(spacing), threshold=parse_threshold(threshold),
                           grain_size=grain_size, min_volume=min_volume, surround=surround, margin=margin)
    seg = result.segmentation
    removed = ", ".join(f"{n} {why}" for why, n in seg.removed.items() if n) or "nothing"
    console.print(f"threshold {seg.threshold:g} ({seg.threshold_method}), grain size {seg.grain_size:.1f} voxels, "
                  f"removed {removed}" + ("" if result.spacing else "; spacing unknown: traits in voxels"))
    stdout.print(f"{seg.count} grains from {scan} -> {out} (grains.csv, split.json, {result.scan_id}-split.png)")


@app.command("report")
def report(
    folder: Annotated[Path, typer.Argument(help="A folder written by 'seedlens seeds split'.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    per_seed: Annotated[bool, typer.Option("--per-seed", help="Also print every seed's row.")] = False,
) -> None:
    """Per-seed traits of a split folder, with their mean and spread."""
    from rich.table import Table

    from seedlens.errors import ConfigError

    table_path = next((folder / n for n in ("grains.csv", "seeds.csv") if (folder / n).is_file()), None)
    if table_path is None:
        raise ConfigError(f"{folder}: no grains.csv or seeds.csv; is it a folder written by 'seedlens seeds split'?")
    with open(table_path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    if not rows:
        raise ConfigError(f"{table_path}: no seed in the table")
    names = [n for n in rows[0] if n != "sample_id"]
    values = {n: [float(r[n]) for r in rows] for n in names}
    summary = {n: {"mean": sum(v) / len(v), "min": min(v), "max": max(v),
                   "sd": (sum((x - sum(v) / len(v)) ** 2 for x in v) / max(len(v) - 1, 1)) ** 0.5}
               for n, v in values.items()}
    if as_json:
        stdout.print_json(json.dumps({"seeds": rows, "summary": summary}))
        return
    summary_table = Table(title=f"{len(rows)} seeds in {folder}")
    for column in ("trait", "mean", "sd", "min", "max"):
        summary_table.add_column(column, justify="left" if column == "trait" else "right")
    for n in names:
        summary_table.add_row(n, *(f"{summary[n][stat]:.4g}" for stat in ("mean", "sd", "min", "max")))
    stdout.print(summary_table)
    if per_seed:
        table = Table()
        table.add_column("sample_id", no_wrap=True)
        for n in names:
            table.add_column(n, justify="right")
        for r in rows:
            table.add_row(r["sample_id"], *(f"{float(r[n]):.4g}" for n in names))
        stdout.print(table)
