"""A tiny training task shared by the training tests; also a script for the subprocess and torchrun tests.

As a script::

    python tiny_task.py RUN_DIR [--epochs 4] [--kill-after-epoch K] [--kill-in-save K] [--out PATH] [--device D]

``--kill-after-epoch K`` SIGKILLs the process from ``on_epoch_end`` after epoch K (its checkpoint is already
written then); ``--kill-in-save K`` SIGKILLs it halfway through writing epoch K's checkpoint. ``--out`` saves
the final weights (``{rank}`` in it is replaced by the rank). Under torchrun every rank initialises its
weights from its own seed and appends its rank to ``RUN_DIR/../saves-rank{rank}.txt`` whenever it writes
a checkpoint.
"""

from __future__ import annotations

import argparse
import io
import os
import signal
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.data import Dataset

from seedlens.training import TrainConfig, TrainResult, seed_everything, train


class TinyDataset(Dataset):
    """``n`` random 8×8 one-channel images; the target is a fixed linear filter of the image."""

    def __init__(self, n: int = 24, seed: int = 0) -> None:
        gen = torch.Generator().manual_seed(seed)
        self.x = torch.randn(n, 1, 8, 8, generator=gen)
        self.y = 0.5 * self.x + 0.25 * torch.roll(self.x, 1, dims=-1)

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, index: int) -> dict[str, Tensor]:
        return {"x": self.x[index], "y": self.y[index]}


def tiny_net(seed: int = 0, dropout: float = 0.2) -> nn.Module:
    """A small conv net with BatchNorm and dropout (dropout draws from the global torch RNG)."""
    seed_everything(seed)
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.Dropout(dropout),
        nn.Conv2d(4, 1, 3, padding=1),
    )


def noisy_step(model: nn.Module, batch: dict[str, Tensor], gen: torch.Generator) -> Tensor:
    """MSE after a random augmentation drawn from ``gen``: noise plus a random horizontal flip."""
    x, y = batch["x"], batch["y"]
    noise = 0.05 * torch.randn(x.shape, generator=gen, device=x.device)
    flip = torch.rand(x.shape[0], generator=gen, device=x.device) < 0.5
    x = torch.where(flip[:, None, None, None], x.flip(-1), x) + noise
    y = torch.where(flip[:, None, None, None], y.flip(-1), y)
    return ((model(x) - y) ** 2).mean()


def config(epochs: int = 4, **changes: Any) -> TrainConfig:
    """The test config: tiny batches, CPU, step decay after epoch 3 (resuming after epoch 2 needs the scheduler)."""
    values: dict[str, Any] = {"batch_size": 8, "lr": 1e-2, "milestones": (3,), "device": "cpu", "seed": 3}
    values.update(changes)
    return TrainConfig(epochs=epochs, **values)


def run(
    run_dir: Path | None, epochs: int = 4, resume: bool = False, seed: int = 0, device: str = "cpu", **kwargs: Any
) -> tuple[nn.Module, TrainResult]:
    """Train a fresh tiny net (initialised from ``seed``) on the tiny dataset; return the net and the result."""
    model = tiny_net(seed)
    cfg = config(epochs, device=device)
    result = train(model, noisy_step, TinyDataset(), cfg, run_dir, resume=resume, progress=False, **kwargs)
    return model, result


def _die_halfway_through_save(epoch: int) -> None:
    real_save = torch.save

    def save(obj: Any, f: Any, *args: Any, **kwargs: Any) -> None:
        if isinstance(obj, dict) and obj.get("epoch") == epoch:
            buffer = io.BytesIO()
            real_save(obj, buffer, *args, **kwargs)
            f.write(buffer.getvalue()[: buffer.tell() // 2])
            f.flush()
            os.fsync(f.fileno())
            os.kill(os.getpid(), signal.SIGKILL)
        real_save(obj, f, *args, **kwargs)

    torch.save = save


def _record_saves(record: Path) -> None:
    from seedlens.training import checkpoint

    real = checkpoint.save_checkpoint

    def save(path: Any, state: dict[str, Any]) -> None:
        with record.open("a") as handle:
            handle.write(f"{os.environ.get('RANK', '0')}\n")
        real(path, state)

    checkpoint.save_checkpoint = save


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--kill-after-epoch", type=int)
    parser.add_argument("--kill-in-save", type=int)
    parser.add_argument("--out")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    torch.set_num_threads(1)
    rank = os.environ.get("RANK", "0")
    if args.kill_in_save:
        _die_halfway_through_save(args.kill_in_save)
    if "RANK" in os.environ:
        _record_saves(args.run_dir.parent / f"saves-rank{rank}.txt")

    def hook(epoch: int, loss: float) -> None:
        if epoch == args.kill_after_epoch:
            os.kill(os.getpid(), signal.SIGKILL)

    # Under torchrun every rank starts from different weights: DDP must broadcast rank 0's.
    model, result = run(args.run_dir, args.epochs, seed=int(rank), device=args.device, on_epoch_end=hook)
    print(f"rank {rank} trained on {result.device} in {result.precision}")
    if args.out:
        torch.save(model.state_dict(), args.out.replace("{rank}", rank))


if __name__ == "__main__":
    main()
