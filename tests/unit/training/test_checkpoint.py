"""Reading and restoring checkpoints: contents, strict loading, clear errors."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from seedlens.errors import CorruptFileError, ReadError
from seedlens.training import (
    CHECKPOINT_NAME,
    CheckpointMismatchError,
    build_optimizer,
    build_scheduler,
    load_checkpoint,
    read_checkpoint,
    save_checkpoint,
)


@pytest.fixture
def trained(tiny, tmp_path):
    model, result = tiny.run(tmp_path, epochs=2)
    return model, result, tmp_path / CHECKPOINT_NAME


def test_checkpoint_holds_everything_to_continue(trained):
    _, result, path = trained
    data = read_checkpoint(path)
    assert {"model", "optimizer", "scheduler", "scaler", "epoch", "global_step", "losses", "config", "rng"} <= set(data)
    assert (data["epoch"], data["global_step"], data["losses"]) == (2, 6, result.losses)
    assert set(data["rng"][0]) == {"python", "numpy", "torch", "cuda"}
    assert data["config"]["batch_size"] == 8


def test_load_restores_weights_optimizer_and_schedule(tiny, trained):
    model, result, path = trained
    fresh = tiny.tiny_net(seed=123)
    config = tiny.config(2)
    optimizer = build_optimizer(fresh.parameters(), config)
    scheduler = build_scheduler(optimizer, config)
    found = load_checkpoint(path, fresh, optimizer, scheduler)
    for key, value in model.state_dict().items():
        assert torch.equal(value, fresh.state_dict()[key]), key
    assert (found.epoch, found.global_step, found.losses, found.world_size) == (2, 6, result.losses, 1)
    assert scheduler.last_epoch == 2
    assert optimizer.state_dict()["state"][0]["step"] == 6


def test_load_restores_global_rng_only_when_asked(tiny, trained):
    _, _, path = trained
    stored = read_checkpoint(path)["rng"][0]["torch"]
    model = tiny.tiny_net()
    torch.manual_seed(999)
    load_checkpoint(path, model)
    assert not torch.equal(torch.get_rng_state(), stored)
    load_checkpoint(path, model, restore_rng=True)
    assert torch.equal(torch.get_rng_state(), stored)


def test_missing_file_names_the_path(tmp_path):
    with pytest.raises(ReadError, match="no checkpoint here") as err:
        load_checkpoint(tmp_path / "nope.pt", nn.Linear(1, 1))
    assert err.value.path == tmp_path / "nope.pt"


@pytest.mark.parametrize("payload", [b"", b"not a checkpoint at all", b"PK\x03\x04truncated zip"])
def test_unreadable_file_is_corrupt(tmp_path, payload):
    path = tmp_path / CHECKPOINT_NAME
    path.write_bytes(payload)
    with pytest.raises(CorruptFileError, match="not a readable checkpoint"):
        read_checkpoint(path)


def test_foreign_torch_file_is_not_a_checkpoint(tmp_path):
    path = tmp_path / "weights.pt"
    torch.save(nn.Linear(2, 2).state_dict(), path)
    with pytest.raises(CorruptFileError, match="not a seedlens training checkpoint"):
        read_checkpoint(path)


def test_truncated_checkpoint_is_corrupt(trained):
    _, _, path = trained
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CorruptFileError):
        read_checkpoint(path)


def test_other_architecture_names_the_keys_and_loads_nothing(trained):
    _, _, path = trained
    other = nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.Dropout(),
        nn.Conv2d(8, 1, 1),
        nn.Conv2d(1, 1, 1),
    )
    before = {k: v.clone() for k, v in other.state_dict().items()}
    with pytest.raises(CheckpointMismatchError) as err:
        load_checkpoint(path, other)
    message = str(err.value)
    assert str(path) in message
    assert "missing keys: 5.weight, 5.bias" in message
    assert "0.weight (checkpoint (4, 1, 3, 3), model (8, 1, 3, 3))" in message
    assert "4.weight (checkpoint (1, 4, 3, 3), model (1, 8, 1, 1))" in message
    for key, value in other.state_dict().items():  # never a partial load
        assert torch.equal(value, before[key]), key


def test_unexpected_keys_are_named(trained):
    _, _, path = trained
    smaller = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1))
    with pytest.raises(CheckpointMismatchError, match=r"unexpected keys: 1\.weight, 1\.bias, 1\.running_mean"):
        load_checkpoint(path, smaller)


def test_optimizer_of_another_model_is_a_mismatch(tiny, trained):
    _, _, path = trained
    model = tiny.tiny_net()
    optimizer = torch.optim.Adam([next(model.parameters())])  # one param group of a different size
    with pytest.raises(CheckpointMismatchError, match="optimizer state does not fit Adam"):
        load_checkpoint(path, model, optimizer)


def test_save_is_atomic_and_cleans_stray_temp_files(tmp_path):
    path = tmp_path / CHECKPOINT_NAME
    stray = tmp_path / f".{CHECKPOINT_NAME}.leftover.tmp"
    stray.write_bytes(b"half")
    save_checkpoint(path, {"epoch": 1})
    assert read_checkpoint(path)["epoch"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == [CHECKPOINT_NAME]
