"""seedlens.inference: scoring modules and sliding-window inference over images, volumes and cubes of any size.

* :class:`ScoringModule` and its kinds: a trained network with its anomaly map, upsampler and score pooling as one
  ``nn.Module`` — what the sliding window calls and what ``seedlens export`` writes to ONNX.
* :func:`stitch_cells` / :func:`blend_windows`: score maps of inputs of any size from windows, memory bounded by the
  window batch.
* :func:`export_onnx`: a fitted detector's scoring module as one ONNX graph (dynamic batch and spatial sizes) and a
  JSON sidecar that says how to preprocess a scan for it.
"""

from seedlens.inference.export import export_onnx
from seedlens.inference.scoring import DenseScoring, ReceptiveFieldScoring, ReconstructionError, ScoringModule
from seedlens.inference.sliding_window import blend_windows, gaussian_importance, stitch_cells
from seedlens.inference.windows import CellLayout, axis_starts, window_positions

__all__ = [
    "CellLayout",
    "DenseScoring",
    "ReceptiveFieldScoring",
    "ReconstructionError",
    "ScoringModule",
    "axis_starts",
    "blend_windows",
    "export_onnx",
    "gaussian_importance",
    "stitch_cells",
    "window_positions",
]
