"""Export a fitted deep detector's scoring module to ONNX, with a JSON sidecar saying how to feed it.

The graph is the detector's :meth:`~seedlens.detectors.deep.DeepDetector.scoring_module` — network, anomaly map,
receptive-field upsampler and score pooling — as one function ``x (N, C, *spatial) -> (scores (N,), heatmaps
(N, 1, *spatial))`` on *preprocessed* float32 input, with free batch and spatial sizes (each side a multiple of
the network's stride). The sidecar (:mod:`seedlens.inference.sidecar`) says how to preprocess a scan, so that
onnxruntime and numpy alone score it.

The graph is traced by PyTorch's TorchScript-based exporter (``torch.onnx.export(..., dynamo=False)``). With
``dynamic_axes`` it keeps the sizes it reads off the input symbolic, so the modules compute their shape-dependent
values (the top-k count of the pooling, the upsampler's crop) with tensor arithmetic on shapes, and one graph
serves every input size. The torch.export-based exporter (torch's default) needs ``onnxscript``, which the
``onnx`` extra does not install, and froze those values to the traced input's sizes in our trials. Every export is
checked: the graph runs in onnxruntime on an input of another batch and spatial size than the traced one and must
agree with the module.
"""

from __future__ import annotations

import copy
import json
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch

from seedlens.config import atomic_write_bytes
from seedlens.errors import ConfigError, ExportError

__all__ = ["DEFAULT_OPSET", "export_onnx"]

#: ONNX opset of exported graphs (onnxruntime 1.17, the oldest the ``onnx`` extra allows, runs up to 20).
DEFAULT_OPSET = 17
#: Relative tolerance of the export check: largest difference over the largest magnitude of each output.
TOLERANCE = 1e-4
_OUTPUTS = ("scores", "heatmaps")


def export_onnx(detector: Any, path: str | Path, *, opset: int = DEFAULT_OPSET) -> tuple[Path, Path]:
    """Write a fitted deep detector's scoring module to ``path`` (ONNX) and its sidecar beside it (``.json``).

    Example:
        >>> onnx_path, json_path = export_onnx(load_detector("runs/a"), "model.onnx")   # model.onnx, model.json

    Args:
        detector: A fitted deep detector (``fcdd``, ``hsc``, ``autoencoder``). HSC's graph gives its scores and, as
            ``heatmaps``, the score broadcast to every position: its gradient heatmaps need autograd.
        path: The ONNX file to write; the sidecar is ``path`` with the suffix ``.json``.
        opset: ONNX opset version.

    Returns:
        ``(onnx_path, json_path)``, both written atomically.

    Raises:
        ConfigError: the detector has no network (knn, rx), or ``path`` ends in ``.json``.
        NotFittedError: the detector is not fitted.
        ExportError: ``onnx`` / ``onnxruntime`` are missing (the message names the extra), or the exported graph
            disagrees with the scoring module.
    """
    from seedlens.inference.sidecar import describe_export

    _check_exportable(detector)
    onnx_path = Path(path)
    if onnx_path.suffix == ".json":
        raise ConfigError(f"the ONNX file must not end in .json (its sidecar takes that name); got {onnx_path}")
    json_path = onnx_path.with_suffix(".json")
    onnx, onnxruntime = _onnx_packages()
    module = copy.deepcopy(detector.scoring_module()).cpu().eval()
    traced_shape = (2, int(detector.in_channels_), *(int(s) for s in detector.input_size_))
    payload = _export(module, traced_shape, int(opset))
    onnx.checker.check_model(onnx.load_from_string(payload))
    multiple = int(detector.input_multiple)
    check_shape = (1, traced_shape[1], *(s + multiple for s in traced_shape[2:]))
    verified = _verify(payload, module, check_shape, onnxruntime)
    sidecar = describe_export(detector, onnx_file=onnx_path.name, opset=int(opset), verified=verified,
                              exporter=f"torch.onnx.export, TorchScript-based (torch {torch.__version__})")
    atomic_write_bytes(onnx_path, payload)
    atomic_write_bytes(json_path, json.dumps(sidecar, indent=2).encode())
    return onnx_path, json_path


def _check_exportable(detector: Any) -> None:
    """Refuse detectors without a scoring module (no network) with the names of those that have one."""
    from seedlens.detectors import DETECTORS
    from seedlens.detectors.deep import DeepDetector

    if isinstance(detector, DeepDetector):
        return
    exportable = sorted(n for n in DETECTORS.list() if issubclass(DETECTORS.get(n), DeepDetector))  # type: ignore[arg-type]
    name = getattr(detector, "name", "") or type(detector).__name__
    raise ConfigError(f"detector {name!r} has no network to export to ONNX; the deep detectors can be exported: "
                      f"{', '.join(exportable)}")


def _onnx_packages() -> tuple[Any, Any]:
    """``onnx`` and ``onnxruntime``, imported on first use."""
    try:
        import onnx
        import onnxruntime
    except ImportError as error:
        raise ExportError(f"ONNX export needs the packages onnx and onnxruntime ({error.name} is missing); install "
                          "them with: pip install 'seedlens[onnx]'") from error
    return onnx, onnxruntime


def _export(module: torch.nn.Module, shape: tuple[int, ...], opset: int) -> bytes:
    """The ONNX bytes of ``module`` traced on zeros of ``shape``, batch and spatial axes dynamic."""
    spatial = {2 + k: name for k, name in enumerate(("D", "H", "W")[3 - (len(shape) - 2):])}
    with tempfile.TemporaryDirectory(prefix="seedlens-onnx-") as folder:
        target = Path(folder) / "model.onnx"
        with warnings.catch_warnings(), _expm1_symbolic(opset):
            # The TorchScript exporter is chosen on purpose (see the module docstring). Its tracer warns where a
            # shape check (layout, channel count) reads a size as a Python value: those checks hold for every input
            # the graph is meant for, and _verify proves that the graph follows other sizes. Its constant folding
            # says it leaves the reversed slices of its own padding translation alone.
            warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
            warnings.filterwarnings("ignore", message=".*legacy TorchScript-based ONNX export.*")
            warnings.filterwarnings("ignore", message="The feature will be removed.*", category=DeprecationWarning)
            warnings.filterwarnings("ignore", message="Constant folding - Only steps=1 can be constant folded.*")
            torch.onnx.export(
                module,
                (torch.zeros(shape),),
                target,
                dynamo=False,
                opset_version=opset,
                input_names=["x"],
                output_names=list(_OUTPUTS),
                dynamic_axes={"x": {0: "N", **spatial}, "scores": {0: "N"}, "heatmaps": {0: "N", **spatial}},
            )
        return target.read_bytes()


@contextmanager
def _expm1_symbolic(opset: int) -> Iterator[None]:
    """``aten::expm1`` (HSC's score) as ONNX operators while exporting: the exporter has no translation of its own."""
    torch.onnx.register_custom_op_symbolic("aten::expm1", _expm1, opset)
    try:
        yield
    finally:
        torch.onnx.unregister_custom_op_symbolic("aten::expm1", opset)


def _expm1(g: Any, x: Any) -> Any:
    """``expm1(x) = 2 t / (1 - t)`` with ``t = tanh(x / 2)``: accurate near 0, where ``exp(x) - 1`` cancels."""
    one, two = (g.op("Constant", value_t=torch.tensor(v, dtype=torch.float32)) for v in (1.0, 2.0))
    t = g.op("Tanh", g.op("Div", x, two))
    return g.op("Div", g.op("Mul", two, t), g.op("Sub", one, t))


def _verify(payload: bytes, module: torch.nn.Module, shape: tuple[int, ...], onnxruntime: Any) -> dict[str, Any]:
    """Run the graph and the module on one random input of ``shape``; their outputs must agree.

    Raises:
        ExportError: an output's shape or values differ (a size the trace froze, an operator that runs otherwise).
    """
    x = torch.from_numpy(np.random.default_rng(0).standard_normal(shape, dtype=np.float32))
    with torch.no_grad():
        expected = [t.numpy() for t in module(x)]
    session = onnxruntime.InferenceSession(payload, providers=["CPUExecutionProvider"])
    got = session.run(list(_OUTPUTS), {"x": x.numpy()})
    errors: dict[str, float] = {}
    for name, want, have in zip(_OUTPUTS, expected, got, strict=True):
        if have.shape != want.shape:
            raise ExportError(f"the exported graph gives {name} of shape {have.shape} for an input of shape {shape}; "
                              f"expected {want.shape}")
        errors[name] = float(np.abs(have - want).max() / max(float(np.abs(want).max()), 1e-12))
        if not errors[name] <= TOLERANCE:
            raise ExportError(f"the exported graph's {name} differ from the scoring module's for an input of shape "
                              f"{shape}: relative error {errors[name]:.3g} (at most {TOLERANCE:g} expected)")
    return {"input_shape": list(shape), "max_relative_error": errors, "tolerance": TOLERANCE}
