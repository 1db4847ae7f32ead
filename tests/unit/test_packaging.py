"""Packaging metadata a current setuptools builds without deprecation warnings."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")  # Python >= 3.11; the metadata is the same for every Python
PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def test_licence_is_an_spdx_string_that_the_pinned_setuptools_reads():
    config = tomllib.loads(PYPROJECT.read_text())
    assert config["project"]["license"] == "Apache-2.0"  # PEP 639: an SPDX expression, not a {text = ...} table
    assert not [c for c in config["project"].get("classifiers", []) if c.startswith("License ::")]
    (setuptools,) = [r for r in config["build-system"]["requires"] if re.match(r"setuptools\b", r)]
    minimum = re.fullmatch(r"setuptools\s*>=\s*(\d+)(?:\.\d+)*", setuptools)
    assert minimum and int(minimum.group(1)) >= 77, setuptools  # SPDX licence strings need setuptools >= 77
