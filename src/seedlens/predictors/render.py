"""Write a fusion explanation to files: JSON summary, an overview PNG, per-modality PNGs and NIfTI heatmaps."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from seedlens.config import atomic_write_bytes
from seedlens.predictors.data import FusionData
from seedlens.predictors.explain import FusionExplanation
from seedlens.types import Modality

QUANTITY = "attribution"


def write_explanation(explanation: FusionExplanation, data: FusionData, out_dir: str | Path,
                      kinds: dict[str, str]) -> list[Path]:
    """Write ``explanation.json``, ``explanation.png`` (contributions + every heatmap) and per-modality files.

    Per image-like modality: ``<name>_heatmap.png`` (images: overlay; cubes: false colour, overlay and band
    importance; volumes: tri-planar slices) and, for volumes, ``<name>_heatmap.nii.gz`` with the input's affine.

    Args:
        explanation: From :meth:`FusionPredictor.explain`.
        data: The data the sample came from (its arrays are shown under the heatmaps).
        out_dir: Output folder (created).
        kinds: Kind per modality name (``volume``, ``cube``, ``image``, ``table``).

    Returns:
        The files written.
    """
    from seedlens.explain import cube_false_colour_png, overlay_png, save_heatmap_nifti, volume_triplanar_png
    from seedlens.io import read

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    sample = data.select([explanation.sample_id]).samples[0]
    inputs = {}
    for name in explanation.heatmaps:
        path = sample.files[name]
        assert path is not None
        inputs[name] = read(path, modality=kinds[name])  # read once: the files need the reader's metadata too
    written = []
    title = f"{explanation.sample_id}: {QUANTITY} for {explanation.heatmap_target}"
    for name, heat in explanation.heatmaps.items():
        array, meta = inputs[name]
        kind = Modality.parse(kinds[name])
        target = out / f"{name}_heatmap.png"
        if kind is Modality.VOLUME:
            written.append(volume_triplanar_png(array, heat, target, title=f"{name} — {title}",
                                                spacing=meta.spacing, quantity=QUANTITY))
            written.append(save_heatmap_nifti(heat, out / f"{name}_heatmap.nii.gz", meta.affine))
        elif kind is Modality.CUBE:
            written.append(cube_false_colour_png(array, heat, target, meta.wavelengths, title=f"{name} — {title}",
                                                 quantity=QUANTITY,
                                                 band_importance=_band_list(explanation, name)))
        else:
            written.append(overlay_png(array, heat, target, title=f"{name} — {title}", quantity=QUANTITY))
    written.append(overview_png(explanation, inputs, out / "explanation.png", kinds))
    payload = json.dumps(explanation.to_dict(), indent=2).encode()
    atomic_write_bytes(out / "explanation.json", payload)
    written.append(out / "explanation.json")
    return written


def overview_png(explanation: FusionExplanation, inputs: dict[str, tuple[np.ndarray, Any]], path: str | Path,
                 kinds: dict[str, str], dpi: int = 100) -> Path:
    """One figure: the Shapley contributions of every target, then each image-like input with its heatmap.

    ``inputs`` maps each heatmap's modality to ``(array, meta)`` as ``seedlens.io.read`` returned them.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from seedlens.explain._figure import save_png
    from seedlens.explain.render import _overlay, _rgb_bands, _stretch

    heat_names = list(explanation.heatmaps)
    bands = [n for n in heat_names if n in explanation.band_importance]
    n_targets = len(explanation.targets)
    columns = n_targets + len(heat_names) + len(bands)
    fig = Figure(figsize=(3.6 * columns, 3.9), dpi=dpi)
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, columns, squeeze=False)[0]
    fig.suptitle(f"sample {explanation.sample_id}: {_prediction_text(explanation)}", fontsize=11, weight="bold")
    for ax, (name, target) in zip(axes[:n_targets], explanation.targets.items(), strict=True):
        labels = list(target.contributions)
        values = [target.contributions[k] for k in labels]
        colours = ["#c0392b" if v > 0 else "#2471a3" for v in values]
        ax.barh(labels[::-1], values[::-1], color=colours[::-1])
        ax.axvline(0, color="0.3", lw=0.8)
        what = f"P({target.explained})" if target.explained != "value" else "value"
        ax.set_title(f"{name}: {what} {target.base:.2f} → {target.prediction:.2f}", fontsize=9)
        ax.set_xlabel("Shapley contribution", fontsize=8)
        ax.tick_params(labelsize=8)
        ax.grid(axis="x", alpha=0.3)
    column = n_targets
    for name in heat_names:
        ax = axes[column]
        column += 1
        array, meta = inputs[name]
        heat = np.clip(explanation.heatmaps[name], 0, 1)
        kind = Modality.parse(kinds[name])
        if kind is Modality.VOLUME:
            d = int(np.unravel_index(int(heat.argmax()), heat.shape)[0])
            ax.imshow(_stretch(array[0, d]), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
            _overlay(ax, heat[d], "jet")
            subtitle = f"{name} (volume, axial d={d})"
        elif kind is Modality.CUBE:
            picks, _ = _rgb_bands(array.shape[0], meta.wavelengths)
            ax.imshow(np.stack([_stretch(array[i]) for i in picks], axis=-1), interpolation="nearest")
            _overlay(ax, heat, "jet")
            subtitle = f"{name} (cube, false colour)"
        else:
            rgb = np.moveaxis(_stretch(array), 0, -1) if array.shape[0] == 3 else _stretch(array.mean(axis=0))
            ax.imshow(rgb, cmap=None if array.shape[0] == 3 else "gray", interpolation="nearest")
            _overlay(ax, heat, "jet")
            subtitle = f"{name} (image)"
        ax.set_title(subtitle, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    for name in bands:
        ax = axes[column]
        column += 1
        meta = inputs[name][1]
        importance = explanation.band_importance[name]
        x = np.asarray(meta.wavelengths) if meta.wavelengths is not None else np.arange(len(importance))
        ax.plot(x, importance, color="crimson", lw=1.5)
        ax.fill_between(x, importance, color="crimson", alpha=0.2)
        ax.set_title(f"{name}: band importance", fontsize=9)
        ax.set_xlabel("wavelength (nm)" if meta.wavelengths is not None else "band", fontsize=8)
        ax.tick_params(labelsize=8)
        ax.grid(alpha=0.3)
    fig.subplots_adjust(left=0.06, right=0.98, top=0.82, bottom=0.16, wspace=0.45)
    return save_png(fig, path)


def _band_list(explanation: FusionExplanation, name: str) -> list[float] | None:
    importance = explanation.band_importance.get(name)
    return None if importance is None else [float(v) for v in importance]


def _prediction_text(explanation: FusionExplanation) -> str:
    parts = []
    for name, value in explanation.predictions.items():
        if isinstance(value, dict):
            label = max(value, key=lambda k: float(value[k]))
            parts.append(f"{name} = {label} ({value[label]:.2f})")
        else:
            parts.append(f"{name} = {value:.3g}")
    missing = f"; missing: {', '.join(explanation.missing)}" if explanation.missing else ""
    return ", ".join(parts) + missing


def to_jsonable(value: Any) -> Any:
    """Numpy values and arrays as plain JSON types."""
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value
