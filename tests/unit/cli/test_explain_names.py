"""``seedlens explain`` gives every input its own heatmap file, also when inputs share a file name."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from seedlens.cli.main import app
from seedlens.cli.score import heatmap_names


def test_names_are_the_stems_when_they_differ():
    assert heatmap_names([Path("scans/a.png"), Path("other/b.nii.gz")]) == {Path("scans/a.png"): "a",
                                                                            Path("other/b.nii.gz"): "b"}


def test_inputs_of_one_name_keep_their_folders_below_their_common_parent(tmp_path):
    paths = [tmp_path / "a" / "x.png", tmp_path / "b" / "x.png", tmp_path / "b" / "deep" / "x.png",
             tmp_path / "y.png"]
    assert list(heatmap_names(paths).values()) == ["a/x", "b/x", "b/deep/x", "y"]


def test_one_folder_one_stem_gets_a_counter_and_one_file_twice_keeps_one_name(tmp_path):
    paths = [tmp_path / "x.png", tmp_path / "x.tif", tmp_path / "x.png", Path("rel") / "x.nii.gz"]
    names = heatmap_names(paths)
    assert names[tmp_path / "x.png"] != names[tmp_path / "x.tif"]
    assert len(set(names.values())) == 3  # three distinct files, three names; the repeated one keeps its own
    assert heatmap_names(paths) == names  # the same inputs, the same names
    assert heatmap_names([Path("x.png"), Path("x.tif")]) == {Path("x.png"): "x", Path("x.tif"): "x-2"}


@pytest.fixture(scope="module")
def rx_run(tmp_path_factory):
    """A saved RX detector fitted on random 16×16 grey images (no network: a fit takes milliseconds)."""
    from seedlens.detectors import create_detector

    run = tmp_path_factory.mktemp("rx") / "run"
    images = np.random.default_rng(0).random((8, 1, 16, 16), dtype=np.float32)
    create_detector("rx", seed=0).fit(images, progress=False).save(run)
    return run


def test_explain_writes_one_heatmap_per_input_of_the_same_file_name(rx_run, tmp_path):
    from seedlens.io import write_png

    rng = np.random.default_rng(1)
    inputs = [tmp_path / "in" / "a" / "x.png", tmp_path / "in" / "b" / "x.png", tmp_path / "in" / "y.png"]
    for k, path in enumerate(inputs):
        image = (rng.random((16, 16)) * 255).astype(np.uint8)
        image[4 * k : 4 * k + 4, 4:8] = 255  # each input its own bright spot, so each heatmap differs
        write_png(path, image)
    out = tmp_path / "maps"
    result = CliRunner().invoke(app, ["explain", str(rx_run), *map(str, inputs), "--out", str(out),
                                      "--device", "cpu", "--workers", "0"])
    assert result.exit_code == 0, result.output
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.png"))
    assert written == ["a/x.png", "b/x.png", "y.png"]
    assert (out / "a" / "x.png").read_bytes() != (out / "b" / "x.png").read_bytes()
    assert result.output.count("wrote ") == 3
