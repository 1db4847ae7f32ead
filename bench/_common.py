"""What every benchmark records: machine, versions, git commit, settings, wall time; and the results table."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import subprocess
import time
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).parent / "results"


def machine() -> dict[str, Any]:
    """Describe the machine a result was measured on."""
    import torch

    info: dict[str, Any] = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "cuda": torch.cuda.is_available(),
    }
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    with contextlib.suppress(OSError):
        info["load_average"] = os.getloadavg()
    return info


def git_dirty() -> bool | None:
    """Whether the code a benchmark runs (``src/``, ``bench/*.py``) differs from the commit; None outside git.

    A copy without ``.git`` (the lent GPU machine) reports what ``BENCH_GIT_DIRTY`` (0 or 1) says, if set.
    """
    try:
        out = subprocess.run(["git", "status", "--porcelain", "--", "src", "bench/*.py"], capture_output=True,
                             text=True, cwd=Path(__file__).parents[1])
    except OSError:
        out = None
    if out is not None and out.returncode == 0:
        return bool(out.stdout.strip())
    flag = os.environ.get("BENCH_GIT_DIRTY")
    return flag == "1" if flag in ("0", "1") else None


def git_commit() -> str | None:
    """The current git commit of the repository; ``BENCH_GIT_COMMIT`` for a copy without git; else None."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, cwd=Path(__file__).parent)
    except OSError:
        out = None
    if out is not None and out.returncode == 0 and out.stdout.strip():
        return out.stdout.strip()
    return os.environ.get("BENCH_GIT_COMMIT") or None


def write_result(
    name: str, settings: dict[str, Any], results: dict[str, Any], started: float, out_dir: Path = RESULTS_DIR
) -> Path:
    """Write ``out_dir/NAME.json`` with settings, results, machine, commit and wall time; return its path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    payload = {
        "benchmark": name,
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "git_commit": git_commit(),
        "git_dirty": git_dirty(),
        "machine": machine(),
        "wall_time_s": round(time.perf_counter() - started, 1),
        "settings": settings,
        "results": results,
    }
    path = out_dir / f"{name}.json"
    path.write_text(json.dumps(payload, indent=2, default=float) + "\n")
    return path
