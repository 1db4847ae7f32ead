"""The JSON sidecar of an exported scoring module: how to feed the graph, and what comes out, without seedlens.

It holds what a user of onnxruntime and numpy alone needs: the preprocessing (the :class:`Preprocessor` as saved,
a plain-language list of its steps, and the intensity rule's constants), the input layout and the multiple every
spatial side must be, the outputs and their meaning, the threshold and its rule, the plan, the training patch and
sliding-window sizes, and where the graph's one pass differs from what ``seedlens score`` does.
"""

from __future__ import annotations

import math
from typing import Any

from seedlens.data.transforms import Preprocessor

__all__ = ["FORMAT", "FORMAT_VERSION", "describe_export", "describe_preprocessing"]

#: Name and version of the sidecar's layout; the version goes up when a key changes meaning or goes away.
FORMAT = "seedlens-onnx"
FORMAT_VERSION = 1


def describe_export(detector: Any, *, onnx_file: str, opset: int, exporter: str,
                    verified: dict[str, Any] | None) -> dict[str, Any]:
    """The sidecar of a fitted deep detector's exported scoring module, as JSON-ready plain values.

    Args:
        detector: A fitted :class:`~seedlens.detectors.deep.DeepDetector`.
        onnx_file: File name of the graph (the sidecar lies beside it).
        opset: ONNX opset of the graph.
        exporter: Which exporter wrote the graph, in words.
        verified: What the export checked (input shape, largest errors), or None.

    Returns:
        A dict with ``format``, ``format_version``, ``seedlens_version``, ``detector``, ``modality``,
        ``in_channels``, ``onnx``, ``input``, ``outputs``, ``preprocessing``, ``spacing``, ``plan``, ``patch_size``,
        ``window_size``, ``decision``, ``score_pooling``, ``heatmap_normalizer``, ``sliding_window``,
        ``test_time_flips`` and ``verified``.
    """
    from seedlens import __version__

    module = detector.scoring_module()
    described = module.describe()
    dims = detector.modality_.spatial_dims
    axes = "D, H, W" if dims == 3 else "H, W"
    channels = int(detector.in_channels_)
    multiple = int(detector.input_multiple)
    preprocessor: Preprocessor = detector.preprocessor_
    flips = bool(getattr(detector.config_, "test_time_flips", False))
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "seedlens_version": __version__,
        "detector": detector.name,
        "modality": detector.modality_.value,
        "in_channels": channels,
        "onnx": {"file": onnx_file, "opset": int(opset), "exporter": exporter},
        "input": {
            "name": "x",
            "layout": f"(N, C, {axes})",
            "dtype": "float32",
            "channels": channels,
            "spatial_multiple": multiple,
            "dynamic_axes": ["N", *axes.split(", ")],
            "note": f"a batch of preprocessed samples (see preprocessing.steps), every spatial side a multiple of "
                    f"{multiple}; the batch size and the spatial sizes are free",
        },
        "outputs": {
            "scores": {"layout": "(N,)", "dtype": "float32",
                       "meaning": f"anomaly score of each sample, higher = more anomalous: "
                                  f"{described['score_pooling']['formula']}"},
            "heatmaps": {"layout": f"(N, 1, {axes})", "dtype": "float32",
                         "meaning": f"{described['heatmaps']}; on the preprocessed grid of x"},
        },
        "anomaly_map": {"description": described["anomaly_map"], **{
            k: v for k, v in described.items() if k not in ("anomaly_map", "heatmaps", "score_pooling")}},
        "preprocessing": describe_preprocessing(preprocessor, channels, multiple),
        "spacing": list(preprocessor.spacing) if preprocessor.spacing is not None else None,
        "plan": detector.plan_,
        "patch_size": [int(v) for v in detector.input_size_],
        "window_size": [int(v) for v in detector.window_size_],
        "decision": {"threshold": float(detector.threshold_), "rule": "anomalous = score >= threshold"},
        "score_pooling": described["score_pooling"],
        "heatmap_normalizer": {
            **detector.normalizer_.to_dict(),
            "formula": "what `seedlens explain --normalize global` shows: clip((heatmap - low) / (high - low), 0, 1), "
                       "low and high the minimum and the given quantile of the normal validation heatmaps",
        },
        "sliding_window": _sliding_window(module.cells, detector.window_size_),
        "test_time_flips": {
            "enabled": flips,
            "note": ("seedlens averages scores and heatmaps over every flip of the spatial axes (the empty flip "
                     f"included: {2 ** dims} passes); the graph is one pass: to match, run it on x flipped along each "
                     "subset of the spatial axes, flip the heatmaps back and average") if flips else
                    "off: seedlens scores one pass, as the graph does",
        },
        "verified": verified,
    }


def _sliding_window(cells: bool, window: tuple[int, ...]) -> str:
    """Where the graph's one pass over a whole input stands to seedlens's sliding windows."""
    size = " × ".join(str(int(w)) for w in window)
    if cells:
        return (f"seedlens scores inputs larger than {size} by windows whose map cells it stitches; that equals one "
                "pass over the whole input (up to float rounding), which is what the graph does: windows only "
                "bound memory")
    return (f"seedlens pads inputs smaller than {size} (the training patch) up to it and scores larger ones by "
            "overlapping windows of that size, their maps averaged with a Gaussian weight (sigma 1/8 of the window); "
            f"the graph makes one pass over the whole input, which equals seedlens for inputs of exactly {size}")


def describe_preprocessing(preprocessor: Preprocessor, channels: int, multiple: int) -> dict[str, Any]:
    """The preprocessing of one sample: the saved preprocessor, its steps in words, and the intensity constants.

    Args:
        preprocessor: The detector's fitted preprocessor.
        channels: The network's input channels.
        multiple: What every spatial side of the graph's input must be a multiple of.

    Returns:
        ``{"preprocessor": Preprocessor.to_dict(), "steps": [...], "intensity": {...}}``; ``intensity`` has the
        per-channel ``low`` / ``high`` / ``scale`` / ``offset`` of a global rule (None: no clipping), the fitted
        ``lo`` / ``hi`` of ``contrast``, and a ``formula``.
    """
    return {
        "preprocessor": preprocessor.to_dict(),
        "steps": _steps(preprocessor, channels, multiple),
        "intensity": _intensity(preprocessor, channels),
    }


def _intensity(pre: Preprocessor, channels: int) -> dict[str, Any]:
    """The intensity rule as constants and a formula."""
    if pre.intensity == "contrast":
        return {
            "rule": "contrast",
            "per_sample": True,
            "lo": pre.lo_,
            "hi": pre.hi_,
            "formula": "x' = ((x - m) / a - lo) / (hi - lo), m = mean(x), a = mean(|x - m|) over the whole sample "
                       "(every channel and position) after resampling and before padding; x' = -lo / (hi - lo) "
                       "where a = 0",
        }
    if pre.intensity == "equalize":
        return {
            "rule": "equalize",
            "per_sample": True,
            "formula": "x' = (F(x) - F(min)) / (F(max) - F(min)), F(v) = the number of the sample's values (every "
                       "channel and position, after resampling and before padding) at or below v; a constant "
                       "sample becomes 0",
        }
    rule = pre.intensity_map(channels)
    return {
        "rule": pre.intensity,
        "per_sample": False,
        "low": [v if math.isfinite(v) else None for v in rule.low],
        "high": [v if math.isfinite(v) else None for v in rule.high],
        "scale": list(rule.scale),
        "offset": list(rule.offset),
        "formula": "x'[c] = clip(x[c], low[c], high[c]) * scale[c] + offset[c] for each channel c (None: no bound)",
    }


def _steps(pre: Preprocessor, channels: int, multiple: int) -> list[str]:
    """The preprocessing of one sample in words, in the order it runs."""
    steps = ["Read the sample channel-first as float32, values as stored in the file: (C, H, W) for images and "
             "cubes (C = bands), (C, D, H, W) for volumes (NIfTI axes reversed: z, y, x)."]
    if pre.channels is not None:
        rule = ("a 3-channel (RGB) sample becomes its channel mean" if channels == 1
                else f"a 1-channel sample is repeated {channels} times")
        steps.append(f"Channels: C must be {channels}: {rule}; any other count is an error.")
    grid = []
    if pre.spacing is not None:
        target = ", ".join(f"{s:g}" for s in pre.spacing)
        grid.append(f"resample to a voxel size of ({target}) per spatial axis: an axis of n voxels of size s "
                    f"becomes max(1, round(n * s / t)) voxels (a sample of unknown voxel size counts as isotropic at "
                    f"{min(pre.spacing):g})")
    if pre.size is not None:
        size = " × ".join(str(s) for s in pre.size)
        grid.append(f"fit into {size}: factor = min(size_i / n_i), each axis becomes min(size_i, max(1, round(n_i * "
                    "factor))) (aspect kept)" if pre.keep_aspect else f"stretch every axis to {size}")
    if grid:
        steps.append("Grid: " + "; then ".join(grid) + ". One interpolation from the sample's shape to the final "
                     "one: linear (bilinear in 2D, antialiased when shrinking; trilinear in 3D), align_corners=False "
                     "(torch.nn.functional.interpolate).")
    else:
        steps.append("Grid: none (the sample keeps its own grid).")
    if pre.size is not None and pre.keep_aspect:
        size = " × ".join(str(s) for s in pre.size)
        steps.append(f"Pad the end of each spatial axis to {size} with the sample's minimum (before intensity).")
    if pre.intensity == "equalize":
        steps.append("Intensity: histogram equalisation (preprocessing.intensity.formula), on the unpadded sample.")
    elif pre.intensity == "contrast":
        steps.append("Intensity: contrast normalisation (preprocessing.intensity.formula), its mean and mean absolute "
                     "deviation from the unpadded sample, applied to the padded one.")
    elif pre.intensity != "none":
        steps.append(f"Intensity ({pre.intensity}): per channel clip, scale and offset (preprocessing.intensity).")
    steps.append(f"Pad the end of each spatial axis to a multiple of {multiple} with the sample's minimum (before "
                 "intensity, as seedlens does). "
                 "seedlens leaves the cells centred in any padding (this one and the fit's) out of a sample's score "
                 "and crops it off the heatmap; the graph pools every cell of x, so a padded sample's score can "
                 "differ slightly from `seedlens score`; a sample needing no padding scores the same.")
    steps.append("Stack samples of one shape into x (N, C, *spatial) float32. Heatmaps come back on this grid: crop "
                 "the padding and resize (linear) to the sample's own grid to overlay them, as `seedlens explain` "
                 "does.")
    return steps
