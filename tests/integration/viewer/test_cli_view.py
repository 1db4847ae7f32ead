"""`seedlens view` as a user starts it: the address it prints serves the run; mistakes get one clear line."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import urllib.request


def test_view_serves_the_run_at_the_address_it_prints(volume_run):
    process = subprocess.Popen(
        [sys.executable, "-m", "seedlens", "view", str(volume_run.run), "--port", "0", "--no-browser",
         "--device", "cpu"], stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        line = ""
        while time.monotonic() < deadline and "viewing" not in line:
            line = process.stderr.readline()
            assert line or process.poll() is None, "seedlens view exited early"
        address = re.search(r"at (http://127\.0\.0\.1:\d+/)", line).group(1)
        for _ in range(50):
            try:
                with urllib.request.urlopen(address + "api/run", timeout=5) as response:
                    run = json.loads(response.read())
                break
            except OSError:
                time.sleep(0.1)
        assert run["run"] == "run" and len(run["samples"]) == 4
        assert "4 samples" in line
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_view_mistakes_are_one_line_with_exit_code_2(seedlens, fusion_run, tmp_path):
    _, fusion = fusion_run
    result = seedlens("view", fusion, "--no-browser", check=False)
    assert result.returncode == 2 and "is a fusion model: give the samples to show with --data" in result.stderr
    (tmp_path / "empty").mkdir()
    result = seedlens("view", tmp_path / "empty", "--no-browser", check=False)
    assert result.returncode == 2 and "not a saved seedlens detector" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
