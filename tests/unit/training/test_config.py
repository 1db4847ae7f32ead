"""TrainConfig validation, optimizer and schedule choices, and the saved config file."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from seedlens.config import from_dict, load_yaml
from seedlens.errors import ConfigError
from seedlens.training import CONFIG_NAME, TrainConfig, build_optimizer, build_scheduler, read_checkpoint, train
from seedlens.training.config import RULES, validate

BAD_VALUES = {
    "epochs": [0, -1, 2.5, True, "3"],
    "dataset_repeats": [0, -2, 1.5, None],
    "batch_size": [0, 1.0, None],
    "optimizer": ["Adam", "rmsprop", ""],
    "lr": [0, -1e-3, float("nan"), float("inf"), "0.1"],
    "backbone_lr": [0, -1e-4, float("nan"), "1e-4"],
    "weight_decay": [-1e-6, float("nan"), None],
    "lr_decay": [0, 1.5, -0.5],
    "milestones": [(3, 2), (0,), (2, 2), [1, 2], (1.5,)],
    "amp": [1, "yes", None],
    "device": ["gpu", "cuda:", "cuda:x", "CPU", ""],
    "seed": [-1, 1.5, None],
    "num_workers": [-1, 0.5],
    "grad_clip": [0, -1.0, float("inf"), "1"],
    "hold_data": ["yes", True, None, "Auto"],
}


def test_every_field_has_a_rule_and_bad_values():
    names = {f.name for f in dataclasses.fields(TrainConfig)}
    assert set(RULES) == names
    assert set(BAD_VALUES) == names


@pytest.mark.parametrize(("field", "value"), [(f, v) for f, values in BAD_VALUES.items() for v in values])
def test_bad_value_names_field_value_and_what_is_allowed(field, value):
    config = dataclasses.replace(TrainConfig(), **{field: value})
    with pytest.raises(ConfigError) as err:
        validate(config)
    message = str(err.value)
    assert f"TrainConfig.{field} must be {RULES[field][1]}" in message
    assert repr(value) in message


def test_defaults_and_good_values_pass():
    validate(TrainConfig())
    validate(TrainConfig(optimizer="sgd", milestones=(2, 5), device="cuda:1", grad_clip=1.0, lr_decay=1))


def test_milestones_and_exponential_decay_together_are_refused():
    with pytest.raises(ConfigError, match="not both"):
        validate(TrainConfig(milestones=(2,), lr_decay=0.9))


def test_train_validates_before_doing_anything(tiny, tmp_path):
    with pytest.raises(ConfigError, match=r"TrainConfig\.batch_size"):
        train(tiny.tiny_net(), tiny.noisy_step, tiny.TinyDataset(), tiny.config(1, batch_size=0), tmp_path / "run")
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    ("name", "kind"), [("adam", torch.optim.Adam), ("adamw", torch.optim.AdamW), ("sgd", torch.optim.SGD)]
)
def test_optimizer_choice(name, kind):
    model = torch.nn.Linear(2, 1)
    optimizer = build_optimizer(model.parameters(), TrainConfig(optimizer=name, lr=0.05, weight_decay=0.01))
    assert type(optimizer) is kind
    group = optimizer.param_groups[0]
    assert (group["lr"], group["weight_decay"]) == (0.05, 0.01)
    if name == "sgd":
        assert (group["momentum"], group["nesterov"]) == (0.9, True)


def _lrs(config: TrainConfig, epochs: int) -> list[float]:
    optimizer = build_optimizer(torch.nn.Linear(2, 1).parameters(), config)
    scheduler = build_scheduler(optimizer, config)
    lrs = []
    for _ in range(epochs):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return lrs


def test_exponential_and_step_schedules():
    assert _lrs(TrainConfig(lr=1.0, lr_decay=0.5), 3) == pytest.approx([1.0, 0.5, 0.25])
    assert _lrs(TrainConfig(lr=1.0), 3) == pytest.approx([1.0, 1.0, 1.0])
    assert _lrs(TrainConfig(lr=1.0, milestones=(1, 3)), 4) == pytest.approx([1.0, 0.1, 0.1, 0.01])


def test_training_applies_the_schedule_and_saves_the_config(tiny, tmp_path):
    config = tiny.config(2, optimizer="sgd", lr=0.01, milestones=(), lr_decay=0.5)
    train(tiny.tiny_net(), tiny.noisy_step, tiny.TinyDataset(), config, tmp_path, progress=False)
    stored = read_checkpoint(tmp_path / "checkpoint.pt")
    assert stored["optimizer"]["param_groups"][0]["lr"] == pytest.approx(0.01 * 0.5**2)
    assert stored["optimizer"]["param_groups"][0]["nesterov"] is True
    assert from_dict(TrainConfig, load_yaml(tmp_path / CONFIG_NAME)) == config
