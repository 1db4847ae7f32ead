"""The FCDD reference implementation as a peer: one run of its Fashion-MNIST runner, set up as ../shared/PEERS.md says.

``FOLDER`` holds ``venv/`` (its own Python with the reference installed) and ``run_one.py``, a wrapper that runs one
class with Gaussian-noise supervision and prints one JSON line: ``auroc``, ``train_images_per_s``,
``test_images_per_s`` (its pass over the 10,000 test images), ``test_phase_s`` (its whole test phase, which also
passes over the training set and draws heatmaps), ``peak_rss_gb`` and its ``commit``. Neither is in this repository.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path
from typing import Any


def run_reference(folder: Path, cls: int, epochs: int) -> dict[str, Any]:
    """The reference's own run on class ``cls``; an error is recorded in the result, not raised."""
    python, script = folder / "venv" / "bin" / "python", folder / "run_one.py"
    if not python.is_file() or not script.is_file():
        return {"error": f"{folder} has no venv/bin/python and run_one.py (see ../shared/PEERS.md)"}
    with tempfile.TemporaryDirectory() as logdir:
        done = subprocess.run([str(python), str(script), "--cls", str(cls), "--epochs", str(epochs),
                               "--logdir", logdir], capture_output=True, text=True)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        return {"error": (done.stderr or done.stdout)[-1500:]}
    result: dict[str, Any] = json.loads(lines[-1])
    if "test_images_per_s" not in result and "test_pass_images_per_s" in result:  # a wrapper that names it so
        result["test_images_per_s"] = result["test_pass_images_per_s"]
    return result
