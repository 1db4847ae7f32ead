"""Device and precision choice, the torchrun environment, seeds and RNG state."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from seedlens.errors import ConfigError
from seedlens.training import DistInfo, derive_seed, dist_from_env, select_device, select_precision
from seedlens.training.seeding import preserved_rng, rng_state, set_rng_state


@pytest.fixture
def no_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)


@pytest.fixture
def two_gpus(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)


def test_auto_falls_back_to_cpu(no_cuda):
    assert select_device("auto") == torch.device("cpu")
    assert select_device("cpu") == torch.device("cpu")


def test_cuda_without_cuda_is_a_clear_error(no_cuda):
    with pytest.raises(ConfigError, match="'cuda:0' requested but CUDA is not available"):
        select_device("cuda:0")


def test_cuda_choices(two_gpus):
    assert select_device("auto") == torch.device("cuda", 0)
    assert select_device("cuda:1") == torch.device("cuda", 1)
    assert select_device("cuda", local_rank=1) == torch.device("cuda", 1)
    assert select_device("auto", local_rank=1) == torch.device("cuda", 1)
    with pytest.raises(ConfigError, match=r"'cuda:2' does not exist; this machine has 2 CUDA device"):
        select_device("cuda:2")
    with pytest.raises(ConfigError, match="under torchrun each process uses cuda:LOCAL_RANK"):
        select_device("cuda:1", local_rank=0)


def test_unknown_device_is_refused():
    with pytest.raises(ConfigError, match="unknown device 'tpu'"):
        select_device("tpu")


def test_precision(monkeypatch):
    cuda = torch.device("cuda", 0)
    assert select_precision(torch.device("cpu"), amp=True) == "fp32"
    assert select_precision(cuda, amp=False) == "fp32"
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: True)
    assert select_precision(cuda, amp=True) == "bf16"
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: False)
    assert select_precision(cuda, amp=True) == "fp16"


def test_environment_without_torchrun(monkeypatch):
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(name, raising=False)
    info = dist_from_env()
    assert info == DistInfo(0, 1, None) and info.is_main and not info.is_distributed


def test_environment_under_torchrun(monkeypatch):
    monkeypatch.setenv("RANK", "3")
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("LOCAL_RANK", "1")
    info = dist_from_env()
    assert info == DistInfo(3, 4, 1) and not info.is_main and info.is_distributed


@pytest.mark.parametrize(("rank", "world", "match"), [("x", "2", "RANK must be"), ("2", "2", "inconsistent")])
def test_bad_environment(monkeypatch, rank, world, match):
    monkeypatch.setenv("RANK", rank)
    monkeypatch.setenv("WORLD_SIZE", world)
    with pytest.raises(ConfigError, match=match):
        dist_from_env()


def test_derived_seeds_are_deterministic_and_distinct():
    assert derive_seed(0, 1, 2) == derive_seed(0, 1, 2)
    seeds = {derive_seed(s, e, k) for s in range(3) for e in range(5) for k in range(5)}
    assert len(seeds) == 75
    assert all(0 <= s < 2**63 for s in seeds)


def _draw():
    return random.random(), float(np.random.rand()), float(np.random.randn()), torch.rand(3).tolist()


def test_rng_state_round_trip():
    np.random.randn()  # leaves a cached gauss in numpy's legacy state
    state = rng_state()
    first = _draw()
    set_rng_state(state)
    assert _draw() == first


def test_preserved_rng_undoes_draws():
    state = rng_state()
    expected = _draw()
    set_rng_state(state)
    with preserved_rng():
        _draw()
    assert _draw() == expected
