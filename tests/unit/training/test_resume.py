"""Checkpoints and resuming: a killed run continues to exactly the weights of an uninterrupted one."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from seedlens.errors import ConfigError
from seedlens.training import CHECKPOINT_NAME, read_checkpoint, train

TINY_SCRIPT = Path(__file__).with_name("tiny_task.py")


def _assert_same_state(a: torch.nn.Module, b: torch.nn.Module) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for key in sa:
        assert torch.equal(sa[key], sb[key]), key


def _run_script(run_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(TINY_SCRIPT), str(run_dir), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_sigkilled_run_resumes_to_identical_weights(tiny, tmp_path):
    # The hook fires only after epoch 2's checkpoint is written (train() documents that order), then the
    # process dies with SIGKILL: no cleanup, no atexit, exactly like a preempted job.
    killed = _run_script(tmp_path / "run", "--epochs", "4", "--kill-after-epoch", "2")
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert read_checkpoint(tmp_path / "run" / CHECKPOINT_NAME)["epoch"] == 2

    resumed, result = tiny.run(tmp_path / "run", epochs=4, resume=True)
    straight, reference = tiny.run(tmp_path / "straight", epochs=4)

    assert (result.resumed_from, result.epochs_run) == (2, 2)
    _assert_same_state(resumed, straight)
    assert result.losses == reference.losses


def test_kill_halfway_through_a_save_keeps_the_previous_checkpoint(tiny, tmp_path):
    run_dir = tmp_path / "run"
    killed = _run_script(run_dir, "--epochs", "4", "--kill-in-save", "2")
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert list(run_dir.glob(f".{CHECKPOINT_NAME}.*.tmp")), "the half-written temp file should be left over"
    assert read_checkpoint(run_dir / CHECKPOINT_NAME)["epoch"] == 1  # the good epoch-1 checkpoint survived

    resumed, result = tiny.run(run_dir, epochs=4, resume=True)
    straight, _ = tiny.run(tmp_path / "straight", epochs=4)
    assert result.resumed_from == 1
    _assert_same_state(resumed, straight)
    assert not list(run_dir.glob(f".{CHECKPOINT_NAME}.*.tmp")), "the next save removes stray temp files"


def test_failing_save_leaves_old_checkpoint_and_no_temp_file(tiny, tmp_path, monkeypatch):
    run_dir = tmp_path / "run"
    tiny.run(run_dir, epochs=1)
    before = (run_dir / CHECKPOINT_NAME).read_bytes()

    def broken_save(obj, f, *args, **kwargs):
        f.write(b"half a checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        tiny.run(run_dir, epochs=2, resume=True)
    assert (run_dir / CHECKPOINT_NAME).read_bytes() == before
    assert sorted(p.name for p in run_dir.iterdir()) == [CHECKPOINT_NAME, "train_config.yaml"]


def test_raising_epochs_continues_like_a_longer_run(tiny, tmp_path):
    tiny.run(tmp_path / "run", epochs=2)
    longer, result = tiny.run(tmp_path / "run", epochs=3, resume=True)
    straight, _ = tiny.run(tmp_path / "straight", epochs=3)
    assert (result.resumed_from, result.epochs_run, len(result.losses)) == (2, 1, 3)
    _assert_same_state(longer, straight)


def test_resuming_a_finished_run_returns_its_history(tiny, tmp_path):
    trained, first = tiny.run(tmp_path / "run", epochs=2)
    loaded, again = tiny.run(tmp_path / "run", epochs=2, resume=True)
    assert again.epochs_run == 0
    assert again.losses == first.losses
    _assert_same_state(loaded, trained)  # the model comes back with the stored weights


def test_resume_without_checkpoint_starts_fresh(tiny, tmp_path):
    _, result = tiny.run(tmp_path / "new", epochs=1, resume=True)
    assert (result.resumed_from, result.epochs_run) == (0, 1)
    assert (tmp_path / "new" / CHECKPOINT_NAME).is_file()


def test_resume_with_a_different_batch_size_is_refused(tiny, tmp_path):
    tiny.run(tmp_path / "run", epochs=1)
    with pytest.raises(ConfigError, match=r"batch_size: 8 in the checkpoint, 4 now"):
        train(
            tiny.tiny_net(), tiny.noisy_step, tiny.TinyDataset(), tiny.config(2, batch_size=4), tmp_path / "run", True
        )


def test_resume_with_a_different_optimizer_is_refused(tiny, tmp_path):
    tiny.run(tmp_path / "run", epochs=1)
    with pytest.raises(ConfigError, match="optimizer: 'adam' in the checkpoint, 'sgd' now"):
        train(
            tiny.tiny_net(),
            tiny.noisy_step,
            tiny.TinyDataset(),
            tiny.config(2, optimizer="sgd"),
            tmp_path / "run",
            True,
        )


def test_existing_checkpoint_is_not_overwritten_without_resume(tiny, tmp_path):
    tiny.run(tmp_path / "run", epochs=1)
    before = (tmp_path / "run" / CHECKPOINT_NAME).read_bytes()
    with pytest.raises(ConfigError, match="resume=True"):
        tiny.run(tmp_path / "run", epochs=1)
    assert (tmp_path / "run" / CHECKPOINT_NAME).read_bytes() == before


def test_resume_needs_a_run_dir(tiny):
    with pytest.raises(ConfigError, match="run_dir"):
        tiny.run(None, epochs=1, resume=True)


def test_epoch_hook_runs_after_the_checkpoint_and_cannot_disturb_training(tiny, tmp_path):
    seen = []

    def hook(epoch, loss):
        seen.append((epoch, read_checkpoint(tmp_path / "hooked" / CHECKPOINT_NAME)["epoch"], loss))
        torch.rand(1000)  # draws from the global RNG, like an evaluation would
        torch.nn.functional.dropout(torch.ones(100), 0.5)

    hooked, result = tiny.run(tmp_path / "hooked", epochs=3, on_epoch_end=hook)
    plain, _ = tiny.run(None, epochs=3)
    assert [(e, c) for e, c, _ in seen] == [(1, 1), (2, 2), (3, 3)]
    assert [loss for *_, loss in seen] == result.losses
    _assert_same_state(hooked, plain)
