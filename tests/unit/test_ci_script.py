"""CI prints the slowest tests (``pytest --durations``), so a test that grows slow is seen where it runs."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_ci_runs_the_test_script_whose_pytest_reports_the_25_slowest_tests():
    assert "bash scripts/test.sh" in (ROOT / ".ci" / "run").read_text()
    (line,) = [line for line in (ROOT / "scripts" / "test.sh").read_text().splitlines()
               if re.match(r"\s*\S*python\S* -m pytest\b", line)]
    durations = [int(m.group(1)) for word in shlex.split(line) if (m := re.fullmatch(r"--durations=(\d+)", word))]
    assert durations == [25], line
