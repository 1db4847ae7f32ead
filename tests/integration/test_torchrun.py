"""``torchrun -m seedlens train / score / explain`` with two CPU processes: one run folder, one result per input."""

from __future__ import annotations

import csv
import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

from seedlens.data.synthetic import write_seed_dataset
from seedlens.detectors import load_detector
from seedlens.io import read


def _test_files(manifest):
    rows = list(csv.DictReader(manifest.open()))
    return [manifest.parent / row["path"] for row in rows if row["split"] == "test"]


def _failure(done: subprocess.CompletedProcess[str]) -> str:
    """What a failed torchrun printed: the processes' own errors come before torchrun's summary."""
    errors = [line for line in done.stderr.splitlines() if "Error" in line or "error" in line]
    return "\n".join([done.stdout[-1500:], *errors[:20], done.stderr[:4000], "...", done.stderr[-2000:]])


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _torchrun(*args, timeout: int = 120, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in (env or os.environ).items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    env["OMP_NUM_THREADS"] = "1"
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-addr", "127.0.0.1",
               "--master-port", str(_free_port()), "-m", "seedlens", *map(str, args)]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout, check=False)


@pytest.fixture(scope="module")
def distributed_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("ddp")
    manifest = write_seed_dataset(root / "data", modality="volume", n_train=8, n_val_normal=3, n_val_anomalous=1,
                                  n_test_normal=2, n_test_anomalous=3, size=16, seed=0)
    config = root / "options.yaml"
    config.write_text("backbone_options: {channels: [4, 8, 8]}\nbatch_size: 2\n")
    run = root / "run"
    done = _torchrun("train", manifest, "--out", run, "--detector", "fcdd", "--epochs", "1", "--patch-size", "16",
                     "--device", "cpu", "--config", config, "--no-progress")
    assert done.returncode == 0, _failure(done)
    return manifest, run, done


def test_two_processes_write_one_run_that_loads_and_scores_like_any_other(distributed_run):
    manifest, run, done = distributed_run
    names = sorted(p.name for p in run.iterdir())
    assert {"detector.yaml", "state.json", "weights.pt", "checkpoint.pt", "run.json"} <= set(names)
    assert not any(name.startswith(".") for name in names), names  # preprocessed samples and temp files removed
    assert done.stderr.count("done") + done.stdout.count("done") == 1  # only the first process reports
    state = json.loads((run / "state.json").read_text())
    assert state["budget"]["epochs"] == 1
    detector = load_detector(run, device="cpu")
    array, meta = read(_test_files(manifest)[0])
    assert np.isfinite(detector.score([array], spacing=[meta.spacing])).all()
    # the threshold was fitted, on both processes' shares of the held-out normals, by the network that was saved
    rows = list(csv.DictReader(manifest.open()))
    val = [read(manifest.parent / r["path"]) for r in rows if r["split"] == "val" and r["label"] == "normal"]
    scores = detector.score([a for a, _ in val], spacing=[m.spacing for _, m in val])
    np.testing.assert_allclose(scores, state["val_scores"], rtol=1e-5)


def test_score_and_explain_shard_their_inputs_and_print_each_result_once(distributed_run, tmp_path):
    manifest, run, _ = distributed_run
    files = _test_files(manifest)
    assert len(files) == 5
    done = _torchrun("score", run, *files, "--json", "--device", "cpu")
    assert done.returncode == 0, _failure(done)
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert [line["path"] for line in lines] == [str(f) for f in files]  # input order, each once
    detector = load_detector(run, device="cpu")  # one process scores them alike
    expected = [float(detector.score([a], spacing=[m.spacing])[0]) for a, m in map(read, files)]
    np.testing.assert_allclose([x["score"] for x in lines], expected, rtol=1e-5)
    out = tmp_path / "maps"
    done = _torchrun("explain", run, *files, "--out", out, "--device", "cpu")
    assert done.returncode == 0, _failure(done)
    written = sorted(p.name for p in out.glob("*_heatmap.nii.gz"))
    assert len(written) == 5 and done.stderr.count("wrote") == 10  # a PNG and a NIfTI per input, said once


def test_scoring_a_hub_under_torchrun_writes_each_prediction_once(distributed_run, tmp_path):
    import shutil

    manifest, run, _ = distributed_run
    scans = tmp_path / "scans"
    scans.mkdir()
    for k, path in enumerate(_test_files(manifest)):
        shutil.copy(path, scans / f"grain{k}.nii.gz")
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "config")}
    env.pop("SEEDLENS_HUB", None)
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    for args in (("hub", "init", "--url", url, "--store", tmp_path / "blobs"),
                 ("hub", "import", scans, "--modality", "volume")):
        subprocess.run([sys.executable, "-m", "seedlens", *map(str, args)], env=env, check=True,
                       capture_output=True, text=True, timeout=120)
    done = _torchrun("score", run, "--hub", url, "--to-hub", "--json", "--device", "cpu", env=env)
    assert done.returncode == 0, _failure(done)
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert sorted(line["path"] for line in lines) == sorted(f"default/grain{k}" for k in range(5))

    from seedlens.hub import Hub

    hub = Hub.open(url)
    try:
        predictions = hub.predictions()
    finally:
        hub.close()
    assert sorted(p.sample_id for p in predictions) == sorted(f"grain{k}" for k in range(5))  # once each
    assert all(p.heatmap for p in predictions)
