"""``seedlens seeds split`` and ``seeds report`` in this process: CT scans, hyperspectral trays, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from seedlens.data.synthetic._files import write_envi
from seedlens.data.synthetic.ear import make_ear_phantom
from seedlens.data.synthetic.tray import make_tray_scan
from seedlens.io import write_nifti


def _run(*args: object) -> tuple[int, str]:
    from seedlens.cli.main import _attach_groups, app

    _attach_groups()
    result = CliRunner().invoke(app, [str(a) for a in args])
    text = result.output + (str(result.exception) if result.exception and result.exit_code else "")
    return result.exit_code, text


@pytest.fixture
def ear_file(tmp_path: Path) -> Path:
    return write_nifti(tmp_path / "ear.nii.gz", make_ear_phantom(5, rng=3).volume, spacing=(0.05, 0.05, 0.05))


def test_split_a_ct_scan_and_report_its_traits(ear_file: Path, tmp_path: Path):
    code, text = _run("seeds", "split", ear_file, "--out", tmp_path / "out")
    assert code == 0, text
    assert "5 grains" in text
    manifest = json.loads((tmp_path / "out" / "split.json").read_text())
    assert manifest["spacing"] == [0.05, 0.05, 0.05] and len(manifest["grains"]) == 5
    code, text = _run("seeds", "report", tmp_path / "out", "--json")
    assert code == 0, text
    report = json.loads(text)
    assert len(report["seeds"]) == 5 and report["summary"]["volume_mm3"]["mean"] > 0
    code, text = _run("seeds", "report", tmp_path / "out", "--per-seed")
    assert code == 0 and "ear-g05" in text and "length_mm" in text


def test_spacing_option_overrides_and_is_checked(ear_file: Path, tmp_path: Path):
    code, _ = _run("seeds", "split", ear_file, "--out", tmp_path / "o", "--spacing", "0.1")
    assert code == 0
    assert json.loads((tmp_path / "o" / "split.json").read_text())["spacing"] == [0.1, 0.1, 0.1]
    code, text = _run("seeds", "split", ear_file, "--out", tmp_path / "o2", "--spacing", "fine")
    assert code != 0 and "--spacing must be one number or D,H,W" in text


def test_split_a_tray(tmp_path: Path):
    tray = make_tray_scan(2, 3, rng=0)
    headers = {}
    for name, cube in (("raw", tray.raw), ("white", tray.white), ("dark", tray.dark)):
        headers[name] = tmp_path / f"{name}.hdr"
        write_envi(headers[name], cube.astype(np.float32), tray.wavelengths)
    code, text = _run("seeds", "split", headers["raw"], "--white", headers["white"], "--dark", headers["dark"],
                      "--out", tmp_path / "tray", "--scan-id", "T")
    assert code == 0, text
    assert "6 seeds" in text
    code, text = _run("seeds", "report", tmp_path / "tray", "--json")
    assert code == 0 and [s["sample_id"] for s in json.loads(text)["seeds"]][:2] == ["T-r01c01", "T-r01c02"]


def test_bad_input_is_named(ear_file: Path, tmp_path: Path):
    code, text = _run("seeds", "split", ear_file, "--out", tmp_path / "x", "--white", ear_file)
    assert code != 0 and "needs both a white and a dark reference" in text
    empty = write_nifti(tmp_path / "empty.nii.gz", np.zeros((16, 16, 16), np.float32))
    code, text = _run("seeds", "split", empty, "--out", tmp_path / "y")
    assert code != 0 and "empty.nii.gz" in text and "no grain" in text
    code, text = _run("seeds", "report", tmp_path)
    assert code != 0 and "no grains.csv or seeds.csv" in text
