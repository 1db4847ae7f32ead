"""Helpers shared by the CLI commands: console, error reporting, run metadata."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rich.console import Console

from seedlens.config import atomic_write_bytes

#: Logs and progress go to stderr; results (tables, JSON) to stdout.
console = Console(stderr=True)
stdout = Console()
RUN_FILE = "run.json"


@contextmanager
def cli_process_group() -> Iterator[None]:
    """Under ``torchrun``, one process group for the whole command (training, calibration, sharded scoring).

    gloo, which serves CPU tensors and the pickled objects the commands exchange; the training loop keeps it (and
    adds nothing) when it finds it. A single process runs unchanged.
    """
    import torch.distributed as dist

    from seedlens.training.distributed import dist_from_env

    info = dist_from_env()
    if not info.is_distributed or dist.is_initialized():
        yield
        return
    dist.init_process_group("gloo")
    try:
        yield
    finally:
        dist.destroy_process_group()


def write_run_info(run: Path, info: dict[str, Any]) -> None:
    """Record how a run was trained (data, normal class...) so later commands can reuse it."""
    atomic_write_bytes(run / RUN_FILE, json.dumps(info, indent=2, default=str).encode())


def read_run_info(run: Path) -> dict[str, Any]:
    """Return what ``write_run_info`` stored, or an empty dict."""
    path = run / RUN_FILE
    return json.loads(path.read_text()) if path.is_file() else {}
