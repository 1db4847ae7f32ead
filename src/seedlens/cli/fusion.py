"""``seedlens fusion``: train, predict, explain and evaluate multi-modal predictors (germination, traits).

DATA is a CSV manifest (``sample_id,split``, one path column per image-like modality, tabular and target
columns), a hub bundle (``.tar`` or folder), or nothing with ``--hub LOCATION --where EXPR``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from seedlens.cli._common import console, stdout

app = typer.Typer(no_args_is_help=True, help="Multi-modal fusion: predict germination and traits.")

DataArg = Annotated[Path | None, typer.Argument(help="CSV manifest or hub bundle; or use --hub/--where.")]
HubOpt = Annotated[str | None, typer.Option(help="Read samples from a hub: folder, database URL, http(s) URL.")]
WhereOpt = Annotated[str | None, typer.Option(help="Hub query selecting the samples, e.g. 'lot = \"L1\"'.")]
DeviceOpt = Annotated[str, typer.Option(help="auto, cpu, cuda or cuda:K.")]
RunArg = Annotated[Path, typer.Argument(help="Run folder written by `seedlens fusion train`.")]


def _pairs(values: list[str] | None, option: str) -> dict[str, str]:
    from seedlens.errors import ConfigError

    pairs: dict[str, str] = {}
    for value in values or []:
        name, sep, rest = value.partition("=")
        if not sep or not name or not rest:
            raise ConfigError(f"{option} takes NAME=VALUE; got {value!r}")
        pairs[name.strip()] = rest.strip()
    return pairs


def _names(value: str | None) -> list[str] | None:
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


def open_data(data: Path | None, hub: str | None, where: str | None, kinds: dict[str, str] | None = None,
              strict_kinds: bool = True) -> Any:
    """The fusion data of DATA (manifest or bundle) or of ``--hub``/``--where``."""
    from seedlens.errors import ConfigError
    from seedlens.predictors import from_hub, read_manifest

    if hub is not None:
        if data is not None:
            raise ConfigError(f"give DATA or --hub, not both (got {data} and --hub {hub})")
        return from_hub(None if hub == "default" else hub, where)
    if data is None:
        raise ConfigError("give DATA (a CSV manifest or a hub bundle) or --hub with --where")
    if data.suffix.lower() == ".csv":
        return read_manifest(data, kinds, strict_kinds=strict_kinds)
    if data.exists():
        return from_hub(str(data), where)
    from seedlens.errors import ReadError

    raise ReadError(data, "not found (expected a fusion manifest .csv or a hub bundle)")


@app.command("train")
def train(
    out: Annotated[Path, typer.Option("--out", "-o", help="Run folder to create.")],
    data: DataArg = None,
    target: Annotated[list[str] | None, typer.Option(help="Column to predict (repeat for several).")] = None,
    modalities: Annotated[str | None, typer.Option(help="Input columns, comma-separated (default: all).")] = None,
    modality_kind: Annotated[list[str] | None, typer.Option(help="Kind of a path column, e.g. ct=volume.")] = None,
    warm_start: Annotated[
        list[str] | None, typer.Option(help="Start a modality's encoder from an FCDD run, e.g. ct=runs/fcdd.")
    ] = None,
    fusion: Annotated[str | None, typer.Option(help="attention or concat.")] = None,
    epochs: Annotated[int | None, typer.Option(help="Training epochs.")] = None,
    device: Annotated[str | None, typer.Option(help="auto, cpu, cuda or cuda:K.")] = None,
    config: Annotated[Path | None, typer.Option(help="YAML file of FusionConfig options; flags override.")] = None,
    resume: Annotated[bool, typer.Option(help="Continue an interrupted training of this run folder.")] = False,
    hub: HubOpt = None,
    where: WhereOpt = None,
    progress: Annotated[bool, typer.Option(help="Show progress bars.")] = True,
) -> None:
    """Train a fusion model on DATA's train split (its val split picks the best epoch)."""
    from seedlens.config import load_yaml
    from seedlens.predictors import FusionPredictor

    params: dict[str, Any] = load_yaml(config) if config is not None else {}
    given = {"targets": tuple(target) if target else None, "modalities": _names(modalities), "fusion": fusion,
             "epochs": epochs, "device": device, "warm_start": _pairs(warm_start, "--warm-start") or None}
    params.update({k: v for k, v in given.items() if v is not None})
    kinds = _pairs(modality_kind, "--modality-kind")
    source = open_data(data, hub, where, kinds)
    model = FusionPredictor(**params)
    console.print(f"[bold]training[/] fusion ({model.config.fusion}) for {', '.join(model.config.targets)} "
                  f"on {source.source} → {out}")
    model.fit(source, run_dir=out, resume=resume, progress=progress)
    model.save(out)
    console.print(f"[green]done[/]: modalities {', '.join(model.modality_names)}; best epoch {model.best_epoch_} "
                  f"of {len(model.history_)}; saved to {out}")


def _load(run: Path, device: str) -> Any:
    from seedlens.predictors import FusionPredictor

    return FusionPredictor.load(run, device=device)


def _data_for(model: Any, data: Path | None, hub: str | None, where: str | None, split: str | None) -> Any:
    kinds = {m.name: m.kind for m in model.modalities_ if m.kind != "table"}
    source = open_data(data, hub, where, kinds, strict_kinds=False)
    if split:
        source = source.split(split)
        if not source.samples:
            from seedlens.errors import DataSourceError

            raise DataSourceError(f"no sample of {source.source} has split {split!r}")
    return source


@app.command("predict")
def predict(
    run: RunArg,
    data: DataArg = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per sample on stdout.")] = False,
    split: Annotated[str | None, typer.Option(help="Only this split (default: every sample).")] = None,
    modalities: Annotated[str | None, typer.Option(help="Use only these modalities (comma-separated).")] = None,
    hub: HubOpt = None,
    where: WhereOpt = None,
    device: DeviceOpt = "auto",
) -> None:
    """Print class probabilities and trait values per sample."""
    model = _load(run, device)
    source = _data_for(model, data, hub, where, split)
    prediction = model.predict(source, _names(modalities))
    rows = []
    for i, sample in enumerate(source.samples):
        row: dict[str, Any] = {"sample_id": sample.sample_id}
        for target in model.targets_:
            out = prediction[target.name]
            if target.task == "classification":
                row[target.name] = out["labels"][i]
                row[f"{target.name}_probabilities"] = {c: round(float(p), 6)
                                                       for c, p in zip(out["classes"], out["probabilities"][i],
                                                                       strict=True)}
            else:
                row[target.name] = round(float(out["values"][i]), 6)
        rows.append(row)
    if as_json:
        for row in rows:
            print(json.dumps(row))
        return
    from rich.table import Table

    table = Table(title=f"{run.name}: {len(rows)} samples")
    table.add_column("sample_id")
    for target in model.targets_:
        table.add_column(target.name, justify="right")
    for row in rows:
        cells = []
        for target in model.targets_:
            if target.task == "classification":
                label = row[target.name]
                cells.append(f"{label} ({row[f'{target.name}_probabilities'][label]:.2f})")
            else:
                cells.append(f"{row[target.name]:.3g}")
        table.add_row(row["sample_id"], *cells)
    stdout.print(table)


@app.command("explain")
def explain(
    run: RunArg,
    data: DataArg = None,
    sample: Annotated[list[str] | None, typer.Option(help="Sample id to explain (repeat for several).")] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path("explanations"),
    target: Annotated[str | None, typer.Option(help="Target the heatmaps explain (default: first class target).")]
    = None,
    hub: HubOpt = None,
    where: WhereOpt = None,
    device: DeviceOpt = "auto",
) -> None:
    """Write per-modality Shapley contributions, heatmaps (PNG, NIfTI) and a JSON summary per sample."""
    from seedlens.errors import ConfigError
    from seedlens.predictors.render import write_explanation

    if not sample:
        raise ConfigError("name the sample(s) to explain with --sample ID")
    model = _load(run, device)
    source = _data_for(model, data, hub, where, None)
    kinds = {m.name: m.kind for m in model.modalities_}
    for sample_id in sample:
        explanation = model.explain(source, sample_id, target)
        folder = out / sample_id if len(sample) > 1 else out
        write_explanation(explanation, source, folder, kinds)
        for name, contribution in explanation.targets.items():
            parts = ", ".join(f"{k} {v:+.3f}" for k, v in contribution.contributions.items())
            what = f"P({contribution.explained})" if contribution.explained != "value" else "value"
            stdout.print(f"{sample_id} {name}: {what} {contribution.base:.3f} → {contribution.prediction:.3f} "
                         f"= base + ({parts})")
        console.print(f"wrote {folder}/explanation.png and the heatmaps")


@app.command("eval")
def evaluate(
    run: RunArg,
    data: DataArg = None,
    split: Annotated[str, typer.Option(help="Split to evaluate.")] = "test",
    hub: HubOpt = None,
    where: WhereOpt = None,
    device: DeviceOpt = "auto",
) -> None:
    """Write RUN/metrics.json (per target, per modality subset) and print the tables."""
    from seedlens.config import atomic_write_bytes
    from seedlens.predictors.render import to_jsonable

    model = _load(run, device)
    source = _data_for(model, data, hub, where, split)
    metrics = model.evaluate(source)
    metrics["split"] = split
    atomic_write_bytes(run / "metrics.json", json.dumps(to_jsonable(metrics), indent=2).encode())
    print_fusion_tables(metrics)
    console.print(f"metrics: {run / 'metrics.json'}")


def print_fusion_tables(metrics: dict[str, Any]) -> None:
    """Print the per-target metrics and the per-subset headline numbers."""
    from rich.table import Table

    table = Table(title=f"fusion metrics ({metrics['n_samples']} samples)")
    for column in ("target", "metric", "value"):
        table.add_column(column)
    for name, values in metrics["targets"].items():
        for key in ("macro_f1", "balanced_accuracy", "accuracy", "mae", "rmse", "r2"):
            if values.get(key) is not None:
                table.add_row(name, key, f"{values[key]:.3f}")
        for cls, auc in (values.get("auroc") or {}).items():
            if auc is not None:
                table.add_row(name, f"auroc ({cls})", f"{auc:.3f}")
    stdout.print(table)
    subsets = Table(title="by modality subset (macro-F1 for classes, R² for traits)")
    subsets.add_column("modalities")
    targets = list(metrics["targets"])
    for name in targets:
        subsets.add_column(name, justify="right")
    for subset, values in metrics["subsets"].items():
        subsets.add_row(subset, *[f"{values[t]:.3f}" if values[t] is not None else "n/a" for t in targets])
    stdout.print(subsets)
