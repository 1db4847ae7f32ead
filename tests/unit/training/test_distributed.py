"""torchrun: two CPU processes (gloo) train one model; only rank 0 writes, every rank ends identical."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import torch

from seedlens.training import CHECKPOINT_NAME, load_checkpoint

TINY_SCRIPT = Path(__file__).with_name("tiny_task.py")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_torchrun_two_processes_on_cpu(tiny, tmp_path):
    run_dir = tmp_path / "run"
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    env["OMP_NUM_THREADS"] = "1"
    command = [
        sys.executable, "-m", "torch.distributed.run",
        "--nproc-per-node", "2", "--master-addr", "127.0.0.1", "--master-port", str(_free_port()),
        str(TINY_SCRIPT), str(run_dir), "--epochs", "1", "--out", str(tmp_path / "rank{rank}.pt"),
    ]  # fmt: skip
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=90, check=False)
    assert done.returncode == 0, done.stderr[-3000:]

    # Only rank 0 wrote the checkpoint (each rank logs its save calls), and exactly one file with no leftovers.
    assert (tmp_path / "saves-rank0.txt").read_text() == "0\n"
    assert not (tmp_path / "saves-rank1.txt").exists()
    assert sorted(p.name for p in run_dir.iterdir()) == [CHECKPOINT_NAME, "train_config.yaml"]

    # DDP kept the ranks in step: identical parameters (BatchNorm running stats are per-rank by design).
    rank0 = torch.load(tmp_path / "rank0.pt", weights_only=True)
    rank1 = torch.load(tmp_path / "rank1.pt", weights_only=True)
    params = [name for name, _ in tiny.tiny_net().named_parameters()]
    for name in params:
        assert torch.equal(rank0[name], rank1[name]), name

    # The checkpoint holds the unwrapped model (no "module." prefix) with rank 0's weights and both RNG streams.
    model = tiny.tiny_net(seed=7)
    found = load_checkpoint(run_dir / CHECKPOINT_NAME, model)
    assert (found.epoch, found.world_size, len(found.rng)) == (1, 2, 2)
    assert found.global_step == 1  # 24 samples / 2 ranks = 12 each / batch 8 -> 1 step, the ragged 4 dropped
    for name in params:
        assert torch.equal(model.state_dict()[name], rank0[name]), name
