"""``seedlens score`` and ``seedlens explain``: apply a saved run to new files or hub samples.

Inputs are decoded ahead in threads (``--workers``) and scored in order, small ones together in batches, each on
its own grid (a 512³ volume or a DICOM series is scored whole, by sliding windows, with its own voxel size). Under
``torchrun --nproc-per-node N -m seedlens score ...`` every process scores its share of the inputs and the first one
prints all results in input order; ``--to-hub`` then writes each prediction once.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from seedlens.cli._common import cli_process_group, console, stdout


def score(
    run: Annotated[Path, typer.Argument(help="Run folder written by `seedlens train`.")],
    paths: Annotated[
        list[Path] | None, typer.Argument(help="Files (or DICOM series folders) to score; or use --hub.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per input on stdout.")] = False,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda or cuda:K.")] = "auto",
    hub: Annotated[str | None, typer.Option(help="Score samples of a hub ('default' for the recorded one).")] = None,
    where: Annotated[str | None, typer.Option(help="Hub query selecting the samples.")] = None,
    to_hub: Annotated[bool, typer.Option(help="Write scores and heatmaps back to the hub as predictions.")] = False,
    workers: Annotated[int, typer.Option(help="Threads decoding the next files while others are scored (0: none).")
                       ] = 2,
) -> None:
    """Score each input: higher = more anomalous; `anomalous` is `score >= threshold` (the run's fitted one)."""
    from seedlens.detectors import load_detector
    from seedlens.errors import ConfigError

    if hub is not None and paths:
        raise ConfigError("give PATH... or --hub, not both")
    if hub is None and to_hub:
        raise ConfigError("--to-hub needs --hub (and usually --where)")
    if hub is None and not paths:
        raise ConfigError("give at least one PATH to score, or --hub")
    detector = load_detector(run, device=device)
    with cli_process_group():
        if hub is not None:
            results = _score_hub(detector, run, hub, where, to_hub)
        else:
            scored = _score_files(detector, _shard(paths or []), False, workers=workers)
            results = _gathered([(str(p), s) for p, s, _ in scored])
        if results is not None:
            _print_scores(results, detector.threshold_, as_json)


def _shard(items: list[Any]) -> list[tuple[int, Any]]:
    """This process's share of ``items`` with their positions: every item under one process, every N-th under N."""
    from seedlens.training.distributed import dist_from_env

    info = dist_from_env()
    return [(i, item) for i, item in enumerate(items) if i % info.world_size == info.rank]


def _gathered(mine: list[tuple[str, float]]) -> list[tuple[str, float]] | None:
    """Every process's results in input order on the first process (None on the others).

    Process ``r`` of ``N`` holds the results of inputs ``r, r + N, r + 2N...`` (:func:`_shard`), in that order.
    """
    from seedlens.training.distributed import all_gather_object, dist_from_env

    info = dist_from_env()
    parts = all_gather_object(mine, info)
    if not info.is_main:
        return None
    ordered = sorted((rank + k * info.world_size, item) for rank, part in enumerate(parts)
                     for k, item in enumerate(part))
    return [item for _, item in ordered]


#: Most bytes of decoded inputs scored together in one call (small images share batches; a large scan goes alone).
CHUNK_BYTES = 64 * 2**20


def _score_files(detector: Any, paths: list[tuple[int, Path]], with_maps: bool, normalize: str | None = None,
                 workers: int = 2) -> Iterator[tuple[Path, float, Any]]:
    """``(path, score, (heatmap, array, meta) or None)`` per file, in order, each scored on its own grid.

    ``workers`` threads decode the next files while the current ones are scored; consecutive small files are
    scored together (up to the detector's batch size, :data:`CHUNK_BYTES` of input), a large one alone.
    """
    from seedlens.io import read
    from seedlens.io.prefetch import read_ahead

    chunk: list[tuple[Path, Any, Any]] = []
    held = 0  # bytes of the arrays in chunk

    def flush() -> Iterator[tuple[Path, float, Any]]:
        arrays = [array for _, array, _ in chunk]
        spacing = [meta.voxel_size for _, _, meta in chunk]
        if with_maps:
            scores, heatmaps = detector.score_and_explain(arrays, normalize=normalize, spacing=spacing)
            for (path, array, meta), value, heatmap in zip(chunk, scores, heatmaps, strict=True):
                yield path, float(value), (heatmap, array, meta)
        else:
            for (path, _, _), value in zip(chunk, detector.score(arrays, spacing=spacing), strict=True):
                yield path, float(value), None
        chunk.clear()

    limit = max(1, int(getattr(detector.config_, "batch_size", 1)))  # a detector without batches: one at a time
    for path, (array, meta) in read_ahead([p for _, p in paths], lambda p: read(p, modality=detector.modality_),
                                          workers):
        if chunk and (len(chunk) >= limit or held + array.nbytes > CHUNK_BYTES):
            yield from flush()
            held = 0
        chunk.append((path, array, meta))
        held += array.nbytes
    if chunk:
        yield from flush()


def _print_scores(results: list[tuple[str, float]], threshold: float, as_json: bool) -> None:
    """Print one JSON object per input, or a table; ``anomalous`` is ``score >= threshold``."""
    from seedlens.evaluation import is_anomalous

    flags: list[bool] = is_anomalous([s for _, s in results], threshold).tolist() if results else []
    if as_json:
        for (name, value), flag in zip(results, flags, strict=True):
            typer.echo(json.dumps({"path": name, "score": float(value), "anomalous": bool(flag)}))
        return
    table = Table(title=f"scores (threshold {threshold:.4f})")
    for column in ("path", "score", "anomalous"):
        table.add_column(column)
    for (name, value), flag in zip(results, flags, strict=True):
        table.add_row(name, f"{value:.4f}", "yes" if flag else "no")
    stdout.print(table)


def _score_hub(detector: Any, run: Path, hub: str, where: str | None,
               to_hub: bool) -> list[tuple[str, float]] | None:
    """Score a hub selection (each process its share); with ``to_hub`` store scores and heatmaps as predictions."""
    from seedlens.cli._common import read_run_info, write_run_info
    from seedlens.config import to_dict
    from seedlens.data.samples import RecordSamples
    from seedlens.hub import Hub, HubSource
    from seedlens.training.distributed import broadcast_object, dist_from_env

    info = dist_from_env()
    source = HubSource(Hub.open(None) if hub == "default" else hub, where=where, modality=detector.modality_.value)
    records = source.records()
    mine = _shard(records)
    samples = RecordSamples([r for _, r in mine], detector.modality_)
    keys = [r.meta.get("key", str(r.path)) for _, r in mine]
    model_uid: str | None = None
    if to_hub:
        run_info = read_run_info(run)
        if info.is_main:
            model_uid = run_info.get("hub_model") if run_info.get("hub") == str(source.hub.location) else None
            if model_uid is None:
                model_uid = source.hub.register_model(
                    {"detector": detector.name, **to_dict(detector.config_)},
                    {"threshold": detector.threshold_},
                    name=run.name,
                    modality=detector.modality_.value,
                ).uid
                write_run_info(run, {**run_info, "hub": str(source.hub.location), "hub_model": model_uid})
        model_uid = broadcast_object(model_uid, info)
    scored: list[tuple[str, float]] = []

    def predictions() -> Iterator[tuple[str, float, Any]]:
        for k in range(len(samples)):
            sample = samples.load(k)
            spacing = [sample.meta.voxel_size]
            if to_hub:
                value, heatmaps = detector.score_and_explain([sample.array], spacing=spacing)
                scored.append((keys[k], float(value[0])))
                yield keys[k], float(value[0]), heatmaps[0]
            else:
                scored.append((keys[k], float(detector.score([sample.array], spacing=spacing)[0])))

    if to_hub:
        assert model_uid is not None
        written = source.hub.write_predictions(model_uid, predictions())
        console.print(f"wrote {written} predictions of model {model_uid} to {source.hub.location}")
    else:
        for _ in predictions():
            pass
    return _gathered(scored)


def explain(
    run: Annotated[Path, typer.Argument(help="Run folder written by `seedlens train`.")],
    paths: Annotated[list[Path], typer.Argument(help="Files (or DICOM series folders) to explain.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the heatmaps.")],
    normalize: Annotated[
        str, typer.Option(help="global (comparable across samples) or local (each map by its own range).")
    ] = "global",
    device: Annotated[str, typer.Option(help="auto, cpu, cuda or cuda:K.")] = "auto",
    workers: Annotated[int, typer.Option(help="Threads decoding the next files while others are scored (0: none).")
                       ] = 2,
) -> None:
    """Write a heatmap per input on its own grid: PNG (images), tri-planar PNG + NIfTI (volumes), false colour (cubes).

    A volume's NIfTI heatmap has the input's shape and affine. Heatmaps are named after their input; inputs of the same
    name keep their folders below a common parent (a/x.png, b/x.png -> OUT/a/x.png, OUT/b/x.png), so none overwrites
    another.
    """
    from seedlens.detectors import load_detector
    from seedlens.errors import ConfigError
    from seedlens.training.distributed import all_gather_object, dist_from_env
    from seedlens.workflows.rendering import render_heatmap

    if normalize not in ("global", "local"):
        raise ConfigError(f"--normalize must be 'global' or 'local'; got {normalize!r}")
    detector = load_detector(run, device=device)
    names = heatmap_names(paths)  # from every input, so that each process of a torchrun names its share alike
    written: list[str] = []
    with cli_process_group():
        for path, value, extra in _score_files(detector, _shard(paths), True, normalize, workers):
            heatmap, array, meta = extra
            stem = out / names[Path(path)]
            title = f"{Path(path).name} · score {value:.3f}"
            written += [str(item) for item in render_heatmap(array, heatmap, meta, stem, title=title)]
        parts = all_gather_object(written, dist_from_env())
    if dist_from_env().is_main:
        for part in parts:
            for item in part:
                console.print(f"wrote {item}")


def heatmap_names(paths: list[Path]) -> dict[Path, str]:
    """A distinct output stem per input file: its name up to the first dot, made unique where inputs share it.

    Inputs whose stems collide keep their folders below the common parent of those inputs (``a/x.png`` and
    ``b/x.png`` -> ``a/x`` and ``b/x``); stems that still collide (``x.png`` and ``x.tif`` in one folder) get
    ``-2``, ``-3``... in input order. The same file given twice keeps one name. Only the inputs decide the names.
    """
    import os
    from collections import defaultdict

    files = {Path(p): Path(os.path.abspath(p)) for p in paths}  # noqa: PTH100 (no symlinks followed: names as given)
    distinct = list(dict.fromkeys(files.values()))
    by_stem: dict[str, list[Path]] = defaultdict(list)
    for file in distinct:
        by_stem[file.name.split(".")[0]].append(file)
    named: dict[Path, str] = {}
    for stem, group in by_stem.items():
        if len(group) == 1:
            named[group[0]] = stem
            continue
        root = Path(os.path.commonpath([str(file.parent) for file in group]))
        for file in group:
            named[file] = (file.parent.relative_to(root) / stem).as_posix()
    taken: set[str] = set()
    for file in distinct:
        name, k = named[file], 1
        while named[file] in taken:
            k += 1
            named[file] = f"{name}-{k}"
        taken.add(named[file])
    return {path: named[file] for path, file in files.items()}
