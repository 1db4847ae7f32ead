"""Hyperspectral trays: calibration against a known reflectance, seed segmentation, tray positions, files."""

from __future__ import annotations

import json

import numpy as np
import pytest

from seedlens.data.synthetic.tray import make_tray_scan
from seedlens.seeds import CalibrationError, NoGrainError, calibrate, split_tray, split_tray_files
from seedlens.seeds.tray_split import write_tray_split


def test_calibration_recovers_the_known_reflectance_within_one_percent():
    tray = make_tray_scan(2, 3, rng=0)
    result = calibrate(tray.raw, tray.white, tray.dark)
    assert result.bad_bands == {}
    error = np.abs(result.reflectance - tray.reflectance)
    assert error.mean() < 0.01 * tray.reflectance.mean() + 0.001
    seeds = tray.labels > 0
    per_band = result.reflectance[:, seeds].mean(axis=1) / tray.reflectance[:, seeds].mean(axis=1)
    assert np.all(np.abs(per_band - 1) < 0.01)


def test_push_broom_line_references_and_dead_bands():
    tray = make_tray_scan(2, 2, dead_bands=(3,), rng=1)
    white_lines, dark_lines = tray.white[:, :4].astype(np.float64), tray.dark[:, :4].astype(np.float64)
    result = calibrate(tray.raw, white_lines, dark_lines)
    assert list(result.bad_bands) == [3] and "no signal" in result.bad_bands[3]
    assert np.all(result.reflectance[3] == 0)
    good = [b for b in range(tray.raw.shape[0]) if b != 3]
    seeds = tray.labels > 0
    ratio = result.reflectance[good][:, seeds].mean() / tray.reflectance[good][:, seeds].mean()
    assert ratio == pytest.approx(1.0, abs=0.02)


def test_bad_references_name_the_file():
    tray = make_tray_scan(2, 2, rng=2)
    with pytest.raises(CalibrationError, match=r"W\.hdr: the white reference has shape \(24, 5, 7\)"):
        calibrate(tray.raw, tray.white[:, :5, :7], tray.dark, names=("R.hdr", "W.hdr", "D.hdr"))
    with pytest.raises(CalibrationError, match=r"D\.hdr: the dark reference is brighter than the white"):
        calibrate(tray.raw, tray.dark, tray.white, names=("R.hdr", "W.hdr", "D.hdr"))


def test_every_seed_is_found_at_its_tray_position():
    tray = make_tray_scan(3, 4, missing=2, rng=13)
    result = split_tray(tray.raw, tray.white, tray.dark, "t1", wavelengths=list(tray.wavelengths))
    assert len(result.seeds) == len(tray.positions) == 10
    for seed in result.seeds:
        window = tuple(slice(a, b) for a, b in seed.bbox)
        truth = np.bincount(tray.labels[window][seed.mask]).argmax()
        assert (seed.row, seed.column) == tray.positions[truth - 1]
        assert seed.sample_id == f"t1-r{seed.row:02d}c{seed.column:02d}"
        overlap = (tray.labels[window] == truth) & seed.mask
        assert 2 * overlap.sum() / ((tray.labels[window] == truth).sum() + seed.mask.sum()) > 0.9


def test_an_empty_tray_has_no_seed():
    tray = make_tray_scan(1, 1, rng=4)
    flat = np.repeat(tray.raw[:, :1, :1], tray.raw.shape[1], axis=1).repeat(tray.raw.shape[2], axis=2)
    with pytest.raises(NoGrainError, match="no seed"):
        split_tray(flat, tray.white, tray.dark, "empty")


def test_tray_files_round_trip(tmp_path):
    from seedlens.data.synthetic._files import write_envi as write_test_envi
    from seedlens.io import read

    tray = make_tray_scan(2, 2, rng=5)
    paths = []
    for name, cube in (("raw", tray.raw), ("white", tray.white), ("dark", tray.dark)):
        header = tmp_path / f"{name}.hdr"
        write_test_envi(header, cube.astype(np.float32), tray.wavelengths)
        paths.append(header)
    result = split_tray_files(*paths, tmp_path / "out", tray_id="T")
    assert len(result.seeds) == 4
    manifest = json.loads((tmp_path / "out" / "split.json").read_text())
    assert [g["sample_id"] for g in manifest["grains"]] == ["T-r01c01", "T-r01c02", "T-r02c01", "T-r02c02"]
    cube, meta = read(tmp_path / "out" / "T-r01c01.hdr")
    assert cube.shape[0] == 24 and meta.wavelengths == pytest.approx(list(tray.wavelengths), rel=1e-3)
    assert np.allclose(cube, result.seeds[0].cube, atol=1e-6)
    spectra = (tmp_path / "out" / "spectra.csv").read_text().splitlines()
    assert spectra[0].startswith("sample_id,400nm") and len(spectra) == 5
    write_tray_split(result, tmp_path / "out")  # a rerun replaces the files in place
    assert len(list((tmp_path / "out").glob("*.hdr"))) == 4
    from seedlens.io import write_envi

    fine = [400.123, 1234.56, 2000.7]
    _, fine_meta = read(write_envi(tmp_path / "fine.hdr", np.zeros((3, 2, 2), np.float32), fine))
    assert fine_meta.wavelengths == pytest.approx(fine, abs=1e-6)
    result.seeds = result.seeds[:3]  # a rerun with fewer seeds leaves none of the old ones behind
    write_tray_split(result, tmp_path / "out")
    assert sorted(p.stem for p in (tmp_path / "out").glob("*.img")) == ["T-r01c01", "T-r01c02", "T-r02c01"]
    assert len(list((tmp_path / "out" / "masks").glob("*.png"))) == 3


def test_an_empty_column_inside_the_tray_keeps_its_number():
    from seedlens.seeds import tray_positions

    rng = np.random.default_rng(0)
    centres = [(10 + 20 * r + rng.uniform(-2, 2), 10 + 20 * c + rng.uniform(-2, 2))
               for r in range(3) for c in (0, 1, 3)]  # column 3 (index 2) is empty
    positions = tray_positions(np.array(centres), seed_size=10.0)
    assert positions == [(r + 1, c + 1) for r in range(3) for c in (0, 1, 3)]


def test_reference_tiles_in_the_frame_calibrate_and_are_not_seeds():
    from seedlens.seeds.hsi import parse_region

    tray = make_tray_scan(2, 3, rng=6)
    raw = tray.raw.copy()
    raw[:, 0:4, 0:4] = tray.white[:, 0:4, 0:4]  # a white tile imaged in the corner
    raw[:, 0:4, -4:] = tray.dark[:, 0:4, -4:]  # and a black one
    width = raw.shape[2]
    result = split_tray(raw, None, None, "tile", white_region=parse_region("0:4,0:4"),
                        dark_region=parse_region(f"0:4,{width - 4}:{width}"))
    assert len(result.seeds) == 6
    seeds = tray.labels > 0
    ratio = result.calibration.reflectance[:, seeds].mean(axis=1) / tray.reflectance[:, seeds].mean(axis=1)
    assert np.all(np.abs(ratio - 1) < 0.03)
    with pytest.raises(CalibrationError, match="not inside the frame"):
        split_tray(raw, None, tray.dark, "tile", white_region=((0, 4), (0, 999)))
    with pytest.raises(CalibrationError, match="white reference frame or a white reference region"):
        split_tray(raw, None, tray.dark, "tile")
    with pytest.raises(Exception, match="y0:y1,x0:x1"):
        parse_region("corner")
