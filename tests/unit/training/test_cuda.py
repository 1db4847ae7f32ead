"""The same loop on a GPU: mixed precision, gradient scaling, device generators, resume. Skipped without CUDA."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from seedlens.training import CHECKPOINT_NAME, load_checkpoint, read_checkpoint, train

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

TINY_SCRIPT = Path(__file__).with_name("tiny_task.py")


@pytest.fixture
def deterministic_cudnn(monkeypatch):
    monkeypatch.setattr(torch.backends.cudnn, "deterministic", True)
    monkeypatch.setattr(torch.backends.cudnn, "benchmark", False)


def _cuda_run(tiny, run_dir, epochs, resume=False, **changes):
    model = tiny.tiny_net()
    seen = []

    def step(model, batch, gen):
        seen.append((batch["x"].device.type, gen.device.type, torch.is_autocast_enabled("cuda")))
        return tiny.noisy_step(model, batch, gen)

    config = tiny.config(epochs, device="cuda", **changes)
    result = train(model, step, tiny.TinyDataset(), config, run_dir, resume=resume, progress=False)
    return model, result, seen


def test_bf16_autocast_on_cuda(tiny, tmp_path):
    if not torch.cuda.is_bf16_supported(including_emulation=False):
        pytest.skip("GPU without native bf16")
    model, result, seen = _cuda_run(tiny, tmp_path, 6, milestones=())
    assert (result.device, result.precision) == ("cuda:0", "bf16")
    assert set(seen) == {("cuda", "cuda", True)}  # batch and generator on the GPU, step under autocast
    assert result.losses[-1] < result.losses[0]
    assert next(model.parameters()).dtype == torch.float32  # AMP keeps fp32 master weights
    assert read_checkpoint(tmp_path / CHECKPOINT_NAME)["scaler"] == {}  # bf16 needs no scaler


def test_amp_off_on_cuda_is_fp32(tiny):
    _, result, seen = _cuda_run(tiny, None, 1, amp=False)
    assert result.precision == "fp32"
    assert {s[2] for s in seen} == {False}


def test_fp16_uses_a_grad_scaler_that_is_checkpointed_and_resumed(tiny, tmp_path, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: False)
    _, result, _ = _cuda_run(tiny, tmp_path, 2, milestones=())
    assert result.precision == "fp16"
    scaler = read_checkpoint(tmp_path / CHECKPOINT_NAME)["scaler"]
    assert scaler["scale"] > 0 and scaler["_growth_tracker"] == 6
    _, resumed, _ = _cuda_run(tiny, tmp_path, 3, resume=True, milestones=())
    assert (resumed.resumed_from, resumed.epochs_run) == (2, 1)
    assert read_checkpoint(tmp_path / CHECKPOINT_NAME)["scaler"]["_growth_tracker"] == 9  # continued, not reset


def test_cuda_resume_matches_straight_run(tiny, tmp_path, deterministic_cudnn):
    _cuda_run(tiny, tmp_path / "run", 2)
    resumed, _, _ = _cuda_run(tiny, tmp_path / "run", 4, resume=True)
    straight, _, _ = _cuda_run(tiny, tmp_path / "straight", 4)
    for key, value in straight.state_dict().items():
        assert torch.equal(value, resumed.state_dict()[key]), key


def test_cuda_checkpoint_loads_on_cpu(tiny, tmp_path):
    trained, _, _ = _cuda_run(tiny, tmp_path, 1)
    cpu_model = tiny.tiny_net(seed=5)
    found = load_checkpoint(tmp_path / CHECKPOINT_NAME, cpu_model, restore_rng=True)
    assert len(found.rng[0]["cuda"]) == torch.cuda.device_count()
    for key, value in trained.state_dict().items():
        assert torch.equal(value.cpu(), cpu_model.state_dict()[key]), key


def test_torchrun_one_gpu_process(tiny, tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "1",
               str(TINY_SCRIPT), str(tmp_path / "run"), "--epochs", "1", "--device", "auto"]  # fmt: skip
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "rank 0 trained on cuda:0" in done.stdout
    assert read_checkpoint(tmp_path / "run" / CHECKPOINT_NAME)["epoch"] == 1
