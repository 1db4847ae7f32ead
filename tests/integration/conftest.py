"""What the CLI tests share: running ``python -m seedlens`` as a user would."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

Cli = Callable[..., subprocess.CompletedProcess[str]]


def run_seedlens(*args: str | Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run ``python -m seedlens ARGS``; with ``check``, a failure shows its output."""
    result = subprocess.run(
        [sys.executable, "-m", "seedlens", *map(str, args)], capture_output=True, text=True, timeout=300
    )
    if check and result.returncode != 0:
        raise AssertionError(f"seedlens {args} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


@pytest.fixture(scope="session")
def seedlens() -> Cli:
    """The ``seedlens`` command: ``seedlens("train", manifest, "--out", run)``."""
    return run_seedlens
