"""What the CLI tests share: running ``python -m seedlens`` as a user would."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

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


CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
#: Flags that keep Debian's Chromium off the network and the GPU (see ../shared/ENVIRONMENT.md).
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """Headless Debian Chromium driven by Playwright; skipped without it, except under CI=true where it must run."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        sync_playwright = None
    if sync_playwright is None or not Path(CHROMIUM).exists():
        if os.environ.get("CI") == "true":
            pytest.fail("CI must run the browser tests: Debian chromium and playwright are required")
        pytest.skip("headless Chromium (Debian package `chromium`) or playwright is not installed")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
