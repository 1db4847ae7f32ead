"""Fixtures for the training tests: the shared tiny task, loaded by path (the tests folder is no package)."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
import torch

TINY_SCRIPT = Path(__file__).with_name("tiny_task.py")


def _load_tiny() -> ModuleType:
    spec = importlib.util.spec_from_file_location("seedlens_tests_tiny_task", TINY_SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def tiny_module() -> ModuleType:
    return _load_tiny()


@pytest.fixture
def tiny(tiny_module: ModuleType) -> Iterator[ModuleType]:
    """The tiny task, with torch pinned to one thread like the subprocesses (bitwise-equal float sums)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield tiny_module
    finally:
        torch.set_num_threads(threads)
