"""The training loop's behaviour on CPU: learning, AMP off, silence, error reporting, result statistics."""

from __future__ import annotations

import math

import pytest
import torch
from torch.utils.data import Dataset

from seedlens.errors import ConfigError, DataSourceError, ShapeError
from seedlens.training import CHECKPOINT_NAME, read_checkpoint, train


def _weights(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.named_parameters()}


def test_loss_goes_down_on_a_learnable_task(tiny):
    model = tiny.tiny_net(dropout=0.0)
    result = train(model, tiny.noisy_step, tiny.TinyDataset(64), tiny.config(15, milestones=()), progress=False)
    assert len(result.losses) == 15
    assert result.losses[-1] < 0.2 * result.losses[0]


def test_result_reports_the_run(tiny):
    _, result = tiny.run(None, epochs=2)
    assert (result.epochs_run, result.resumed_from, result.world_size) == (2, 0, 1)
    assert (result.device, result.precision, result.checkpoint) == ("cpu", "fp32", None)
    assert result.samples_per_s > 0 and result.wall_time_s > 0
    assert all(math.isfinite(v) for v in result.losses)


def test_the_run_says_how_much_of_its_time_went_waiting_for_data(tiny):
    import time

    class Slow(tiny.TinyDataset):
        def __getitem__(self, index):
            time.sleep(0.004)  # 32 ms per batch of 8: far more than the tiny net's step
            return super().__getitem__(index)

    _, fast = tiny.run(None, epochs=1)
    slow = train(tiny.tiny_net(), tiny.noisy_step, Slow(), tiny.config(1), progress=False)
    assert slow.data_wait_s > 0.09 and slow.data_wait_share > 0.6, slow
    assert 0 <= fast.data_wait_share < slow.data_wait_share and fast.step_s > 0


def test_amp_flag_is_ignored_on_cpu(tiny):
    with_amp = tiny.tiny_net()
    result = train(with_amp, tiny.noisy_step, tiny.TinyDataset(), tiny.config(2, amp=True), progress=False)
    without = tiny.tiny_net()
    train(without, tiny.noisy_step, tiny.TinyDataset(), tiny.config(2, amp=False), progress=False)
    assert result.precision == "fp32"
    for key, value in with_amp.state_dict().items():
        assert torch.equal(value, without.state_dict()[key]), key


@pytest.mark.parametrize("progress", [False, True])  # True: pytest's capture is no terminal, so still silent
def test_training_prints_nothing_without_a_terminal(tiny, tmp_path, capfd, progress):
    train(tiny.tiny_net(), tiny.noisy_step, tiny.TinyDataset(), tiny.config(2), tmp_path, progress=progress)
    out, err = capfd.readouterr()
    assert (out, err) == ("", "")


def test_progress_bar_shows_epochs_and_loss_on_a_terminal(tiny, monkeypatch, capsys):
    monkeypatch.setenv("FORCE_COLOR", "1")  # rich treats the captured stream as a terminal
    monkeypatch.setenv("TTY_COMPATIBLE", "1")
    monkeypatch.setenv("TTY_INTERACTIVE", "1")
    train(tiny.tiny_net(), tiny.noisy_step, tiny.TinyDataset(), tiny.config(2), progress=True)
    err = capsys.readouterr().err
    assert "epoch 2/2" in err and "loss" in err and "samples/s" in err


def test_seed_changes_the_run_and_repeats_it(tiny):
    def final(seed):
        model = tiny.tiny_net()
        train(model, tiny.noisy_step, tiny.TinyDataset(), tiny.config(1, seed=seed), progress=False)
        return model.state_dict()["0.weight"]

    assert torch.equal(final(1), final(1))
    assert not torch.equal(final(1), final(2))


def test_dataset_smaller_than_a_batch_still_trains(tiny):
    # 5 samples, batch 8: the only batch is the ragged one, which must not be dropped.
    model = tiny.tiny_net()
    result = train(model, tiny.noisy_step, tiny.TinyDataset(5), tiny.config(1), progress=False)
    assert result.epochs_run == 1 and math.isfinite(result.losses[0])


def test_tiny_grad_clip_limits_the_update(tiny):
    model = tiny.tiny_net()
    before = _weights(model)
    config = tiny.config(1, optimizer="sgd", milestones=(), grad_clip=1e-9)
    train(model, tiny.noisy_step, tiny.TinyDataset(), config, progress=False)
    after = _weights(model)
    moved = max((after[k] - v).abs().max().item() for k, v in before.items())
    assert moved < 1e-6


def test_step_must_return_a_scalar_loss(tiny):
    def vector_step(model, batch, gen):
        return ((model(batch["x"]) - batch["y"]) ** 2).mean(dim=(1, 2, 3))

    with pytest.raises(ShapeError, match=r"scalar loss tensor \(shape \(\)\); got \(8,\)"):
        train(tiny.tiny_net(), vector_step, tiny.TinyDataset(), tiny.config(1), progress=False)


def test_detached_loss_is_reported(tiny):
    def detached_step(model, batch, gen):
        return tiny.noisy_step(model, batch, gen).detach()

    with pytest.raises(ShapeError, match="does not require grad"):
        train(tiny.tiny_net(), detached_step, tiny.TinyDataset(), tiny.config(1), progress=False)


def test_diverging_loss_raises_and_keeps_the_last_good_checkpoint(tiny, tmp_path):
    calls = []

    def nan_in_epoch_two(model, batch, gen):  # 24 samples / batch 8: steps 3.. belong to epoch 2
        calls.append(1)
        loss = tiny.noisy_step(model, batch, gen)
        return loss * float("nan") if len(calls) > 3 else loss

    with pytest.raises(FloatingPointError, match="epoch 2: mean training loss is nan"):
        train(tiny.tiny_net(), nan_in_epoch_two, tiny.TinyDataset(), tiny.config(3), tmp_path, progress=False)
    assert read_checkpoint(tmp_path / CHECKPOINT_NAME)["epoch"] == 1


class _Tuples(Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, index):
        return torch.zeros(1, 8, 8), torch.zeros(1, 8, 8)


def test_non_dict_items_are_reported(tiny):
    with pytest.raises(TypeError, match=r"dicts of tensors.*got list"):
        train(tiny.tiny_net(), tiny.noisy_step, _Tuples(), tiny.config(1), progress=False)


def test_empty_dataset_is_reported(tiny):
    with pytest.raises(DataSourceError, match="empty"):
        train(tiny.tiny_net(), tiny.noisy_step, tiny.TinyDataset(0), tiny.config(1), progress=False)


def test_iterable_dataset_is_reported(tiny):
    class Stream(torch.utils.data.IterableDataset):
        def __iter__(self):
            return iter([])

    with pytest.raises(ConfigError, match="map-style dataset"):
        train(tiny.tiny_net(), tiny.noisy_step, Stream(), tiny.config(1), progress=False)


def test_worker_processes_give_the_same_run(tiny):
    single, multi = tiny.tiny_net(), tiny.tiny_net()
    train(single, tiny.noisy_step, tiny.TinyDataset(), tiny.config(1), progress=False)
    train(multi, tiny.noisy_step, tiny.TinyDataset(), tiny.config(1, num_workers=1), progress=False)
    for key, value in single.state_dict().items():
        assert torch.equal(value, multi.state_dict()[key]), key


def test_dataset_repeats_lengthen_each_epoch_and_stay_fixed_on_resume(tiny, tmp_path):
    steps = []

    def counting_step(model, batch, gen):
        steps.append(len(batch["x"]))
        return tiny.noisy_step(model, batch, gen)

    train(tiny.tiny_net(), counting_step, tiny.TinyDataset(5), tiny.config(1, dataset_repeats=4), progress=False)
    assert steps == [8, 8]  # 5 samples x 4 = 20 per epoch: two full batches, the ragged 4 dropped
    run_dir = tmp_path / "run"
    train(tiny.tiny_net(), tiny.noisy_step, tiny.TinyDataset(), tiny.config(1, dataset_repeats=2), run_dir,
          progress=False)
    with pytest.raises(ConfigError, match="dataset_repeats: 2 in the checkpoint, 1 now"):
        train(tiny.tiny_net(), tiny.noisy_step, tiny.TinyDataset(), tiny.config(2), run_dir, resume=True,
              progress=False)
