"""``seedlens train``: fit a detector on a manifest or dataset folder and save it as a run folder."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from seedlens.cli._common import console, write_run_info


def train(
    out: Annotated[Path, typer.Option("--out", "-o", help="Run folder to create (model, config, checkpoints).")],
    data: Annotated[
        Path | None, typer.Argument(help="CSV manifest (path,label,split[,mask]) or dataset folder; or use --hub.")
    ] = None,
    normal_class: Annotated[
        str | None, typer.Option(help="Label that is normal; every other label is anomalous (default 'normal').")
    ] = None,
    detector: Annotated[
        str,
        typer.Option(
            help="Detector: auto, knn, fcdd, hsc, autoencoder, rx or clip (see `seedlens detectors`). auto: knn "
            "for grey or RGB images, rx for hyperspectral cubes, fcdd for volumes, or when --backbone / --epochs "
            "(or, for cubes, --device / --image-size) ask for a trained network."
        ),
    ] = "auto",
    backbone: Annotated[str | None, typer.Option(help="Backbone name (see `seedlens backbones`).")] = None,
    epochs: Annotated[int | None, typer.Option(
        help="Training epochs (default: 30, a small training set repeated within each to at least 500 steps).")] = None,
    image_size: Annotated[int | None, typer.Option(
        help="Fit whole samples into S×S (2D) or S×S×S (3D), aspect kept (default: images at the backbone's size, "
        "volumes and cubes at native resolution).")] = None,
    spacing: Annotated[str | None, typer.Option(
        help="Voxel size to resample to: auto (volumes: the training median), one number, or one per axis "
        "(e.g. 3,0.7,0.7). Scans without a spacing (TIFF, PNG) count as isotropic.")] = None,
    patch_size: Annotated[int | None, typer.Option(
        help="Train on random patches of this side at native resolution, drawn inside the object (default: "
        "the median training size cut down to 64³ voxels / 128² pixels, its physically longest axis first).")] = None,
    workers: Annotated[int | None, typer.Option(help="DataLoader worker processes reading training patches.")] = None,
    device: Annotated[str | None, typer.Option(help="auto, cpu, cuda or cuda:K.")] = None,
    config: Annotated[
        Path | None, typer.Option(help="YAML file of detector options; flags given here override it.")
    ] = None,
    resume: Annotated[bool, typer.Option(help="Continue an interrupted training of this run folder.")] = False,
    hub: Annotated[
        str | None, typer.Option(help="Train from a hub: folder, database URL, http(s) URL or bundle ('default').")
    ] = None,
    where: Annotated[str | None, typer.Option(help="Hub query selecting the samples, e.g. \"lot = 'A'\".")] = None,
    label_field: Annotated[str, typer.Option(help="Hub field holding the class label.")] = "germination",
    modality: Annotated[str | None, typer.Option(help="Hub modality to train on: image, volume or cube.")] = None,
    outliers: Annotated[list[Path] | None, typer.Option(
        help="Outlier Exposure: an outlier image file or folder (searched recursively); repeat for several. "
        "Outliers are prepared like the normal samples and, when few, strongly augmented.")] = None,
    outlier_count: Annotated[str | None, typer.Option(
        help="Use a fixed subset of N outliers, drawn by the seed (the EOE protocol: 1, 2, 4, ...), or 'all'.")] = None,
    outliers_where: Annotated[str | None, typer.Option(
        help="With --hub: a query whose samples are outliers (e.g. \"germination = 'dead'\"); never test samples.")
    ] = None,
    objective: Annotated[str | None, typer.Option(
        help="Training objective against the outliers: fcdd (explanation maps), hsc (hypersphere), bce or focal "
        "(a normal-vs-outlier classifier). Picks the detector: fcdd, or hsc with that objective.")] = None,
    finetune: Annotated[bool, typer.Option(
        "--finetune", help="Fine-tune a pretrained network as EOE does: --backbone efficientnet_lite0/2 at a tenth "
        "of the learning rate with its first stage fixed; --detector clip: its image encoder, with --outliers.")
    ] = False,
    clip: Annotated[str | None, typer.Option(
        help="--detector clip: a local CLIP folder (transformers format) or a hub model name.")] = None,
    class_name: Annotated[str | None, typer.Option(
        help="--detector clip: what a normal sample is, in words, for the prompts (default: the normal label, "
        "underscores as spaces).")] = None,
    progress: Annotated[bool, typer.Option(help="Show progress bars.")] = True,
) -> None:
    """Train a detector on the normal samples of DATA's train split; the threshold comes from its val split."""
    from seedlens.config import load_yaml
    from seedlens.detectors import create_detector

    params: dict[str, Any] = load_yaml(config) if config is not None else {}
    flags = {"backbone": backbone, "epochs": epochs, "image_size": image_size, "device": device,
             "spacing": parse_spacing(spacing), "patch_size": patch_size, "num_workers": workers}
    for key, value in flags.items():
        if value is not None:
            params[key] = value
    detector = _exposure_options(params, detector, outliers, outlier_count, outliers_where, objective)
    detector = _clip_options(params, detector, finetune, clip, class_name)
    source = _open_data(data, hub, where, label_field, normal_class, modality)
    if detector == "auto":
        detector = _auto_detector(source, params, modality)
    from seedlens.training.distributed import dist_from_env

    model = create_detector(detector, **params)
    main = dist_from_env().is_main
    if main:
        console.print(f"[bold]training[/] {detector} on {hub or data} → {out}")
    model.fit(source, run_dir=out, resume=resume, progress=progress)
    if not main:  # under torchrun the first process writes the run folder and the hub row
        return
    model.save(out)
    _report_plan(model)
    info: dict[str, Any] = {"normal_class": source.normal_class}
    if hub is None:
        info["data"] = str(Path(str(data)).resolve())
    else:
        info.update(_register_in_hub(source, model, out, where))
    write_run_info(out, info)
    history = getattr(model, "history_", [])
    final = f"{history[-1]:.4f}" if history else "n/a"
    console.print(
        f"[green]done[/]: {len(history)} epochs, final loss {final}, threshold {model.threshold_:.4f}; "
        f"saved to {out}"
    )


def parse_spacing(text: str | None) -> str | float | tuple[float, ...] | None:
    """``--spacing``: ``auto``, one number, or comma-separated numbers (one per spatial axis)."""
    from seedlens.errors import ConfigError

    if text is None or text == "auto":
        return text
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise ConfigError(f"--spacing must be auto, a number or numbers separated by commas; got {text!r}") from None
    return values[0] if len(values) == 1 else values


#: ``--objective`` → (detector, its ``objective`` option or None).
OBJECTIVES = {"fcdd": ("fcdd", None), "hsc": ("hsc", "hsc"), "bce": ("hsc", "bce"), "focal": ("hsc", "focal")}


def _exposure_options(params: dict[str, Any], detector: str, outliers: list[Path] | None, count: str | None,
                      where: str | None, objective: str | None) -> str:
    """Put the Outlier Exposure flags into ``params``; return the detector ``--objective`` implies.

    Raises:
        ConfigError: an unknown objective, an objective another ``--detector`` does not train, or a bad count.
    """
    from seedlens.anomaly.outlier_sets import parse_count
    from seedlens.errors import ConfigError

    if outliers:
        params["outliers"] = [str(p) for p in outliers] if len(outliers) > 1 else str(outliers[0])
    if count is not None:
        n = parse_count(count)
        params["outlier_count"] = "all" if n is None else n
    if where is not None:
        params["outliers_where"] = where
    if objective is None:
        return detector
    if objective not in OBJECTIVES:
        raise ConfigError(f"--objective must be one of {', '.join(OBJECTIVES)}; got {objective!r}")
    implied, option = OBJECTIVES[objective]
    if detector not in ("auto", implied):
        raise ConfigError(f"--objective {objective} trains the {implied} detector, not --detector {detector}")
    if option is not None:
        params["objective"] = option
    return implied


def _clip_options(params: dict[str, Any], detector: str, finetune: bool, clip: str | None,
                  class_name: str | None) -> str:
    """Put the CLIP flags and ``--finetune`` into ``params``; ``--clip`` alone implies ``--detector clip``.

    Raises:
        ConfigError: ``--clip`` / ``--class-name`` with another detector.
    """
    from seedlens.errors import ConfigError

    if clip is not None or class_name is not None:
        if detector not in ("auto", "clip"):
            raise ConfigError(f"--clip and --class-name set up the clip detector, not --detector {detector}")
        detector = "clip"
        if clip is not None:
            params["clip"] = clip
        if class_name is not None:
            params["normal_class"] = class_name
    if finetune:
        if detector == "clip":
            params["finetune"] = True
        else:
            _finetune_options(params)
    return detector


#: Backbones that start from ImageNet weights: what ``--finetune`` fine-tunes.
PRETRAINED_BACKBONES = ("efficientnet_lite0", "efficientnet_lite2")


def _finetune_options(params: dict[str, Any]) -> None:
    """``--finetune`` for a trained detector: EOE's fine-tuning of a pretrained backbone.

    The backbone learns at a tenth of the head's rate and its stem and first stage stay fixed, unless the
    configuration sets ``backbone_lr`` / ``freeze_stages`` itself.

    Raises:
        ConfigError: the backbone is not a pretrained one.
    """
    from seedlens.detectors.config import DeepDetectorConfig
    from seedlens.errors import ConfigError

    backbone = params.get("backbone")
    if backbone not in PRETRAINED_BACKBONES:
        raise ConfigError(f"--finetune fine-tunes a pretrained backbone ({', '.join(PRETRAINED_BACKBONES)}); "
                          f"got --backbone {backbone or 'auto'}, which trains from scratch")
    params.setdefault("backbone_lr", float(params.get("lr", DeepDetectorConfig.lr)) / 10)
    params.setdefault("freeze_stages", 1)


def _report_plan(model: Any) -> None:
    """Say what resolution the detector works at, and whether scans had no spacing (taken as isotropic)."""
    plan = getattr(model, "plan_", None)
    if not plan:
        return
    spacing = plan.get("spacing")
    grid = (f"resampled to {' × '.join(f'{s:g}' for s in spacing)} per voxel" if spacing
            else f"fitted into {plan['image_size']} per side" if plan.get("image_size") else "on each scan's own grid")
    console.print(f"plan: {grid}; patches {'×'.join(map(str, plan['patch_size']))}, sliding window "
                  f"{'×'.join(map(str, plan['window_size']))}; intensity {plan['intensity']}")
    if plan.get("unknown_spacing"):
        console.print(f"[yellow]note[/]: {plan['unknown_spacing']} training scan(s) carry no voxel size and were "
                      "treated as isotropic")


def _auto_detector(source: Any, params: dict[str, Any], modality: str | None) -> str:
    """Resolve ``--detector auto`` from the first normal training sample and the options given.

    Options that the training-free choice (knn, rx) does not take — ``--backbone``, ``--epochs``, FCDD options,
    and for rx also ``--device`` / ``--image-size`` — ask for a trained network: fcdd.
    """
    import dataclasses

    from seedlens.data.loading import load_record
    from seedlens.detectors import auto_detector
    from seedlens.detectors.knn import KNNConfig
    from seedlens.detectors.rx import RXConfig

    first = next(iter(source.records("train", normal_only=True)), None)
    if first is None:
        return "fcdd"  # fcdd's fit names what is missing
    sample = load_record(first, modality=modality)
    name = auto_detector(sample.array, modality or sample.meta.modality)  # a 3-band cube stays a cube
    accepted = {"knn": KNNConfig, "rx": RXConfig}.get(name)
    if accepted is not None and set(params) - {field.name for field in dataclasses.fields(accepted)}:
        return "fcdd"
    return name


def _open_data(
    data: Path | None,
    hub: str | None,
    where: str | None,
    label_field: str,
    normal_class: str | None,
    modality: str | None,
) -> Any:
    """Return the data source: a manifest/folder, or a hub selection."""
    from seedlens.data import open_source
    from seedlens.errors import ConfigError

    if hub is None:
        if data is None:
            raise ConfigError("give DATA (a CSV manifest or dataset folder) or --hub with --where")
        return open_source(data, normal_class=normal_class)
    if data is not None:
        raise ConfigError(f"give DATA or --hub, not both (got {data} and --hub {hub})")
    from seedlens.hub import Hub, HubSource

    return HubSource(
        Hub.open(None) if hub == "default" else hub,
        where=where,
        label_field=label_field,
        normal_class=normal_class or "normal",
        modality=modality,
    )


def _register_in_hub(source: Any, model: Any, out: Path, where: str | None) -> dict[str, Any]:
    """Record the trained model in the hub it was trained from; return what the run folder should remember.

    A bundle is read-only: the model is then only remembered in the run folder (score --to-hub registers it
    in the hub the predictions go to).
    """
    from seedlens.config import to_dict

    remembered: dict[str, Any] = {"hub": str(source.hub.location), "where": where, "data_hash": source.data_hash}
    if source.hub.read_only:
        console.print(f"{source.hub.location} is read-only (a bundle): the model is not registered there")
        return remembered

    record = source.hub.register_model(
        {"detector": model.name, **to_dict(model.config_)},
        {"threshold": model.threshold_},
        query=where,
        data_hash=source.data_hash,
        name=out.name,
        modality=model.modality_.value,
    )
    return {**remembered, "hub_model": record.uid}
