"""One rich progress bar over a whole run, showing the epoch and the running loss."""

from __future__ import annotations

import time
from types import TracebackType

import torch
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn


class TrainProgress:
    """A progress bar for the training loop; every method is a no-op when it is disabled.

    It is disabled when ``enabled`` is False or stderr is not a terminal (logs, CI, torchrun workers), so
    it never writes escape codes into a file. Reading a loss value synchronises the GPU, so the bar reads
    it at most every ``refresh_s`` seconds instead of every step.

    Args:
        enabled: Show the bar (the loop passes ``progress and rank == 0``).
        epochs: Total epochs of the run (for the "epoch k/N" label).
        total_steps: Steps this call will run (the bar's length).
        refresh_s: Minimum seconds between loss reads.
    """

    def __init__(self, enabled: bool, epochs: int, total_steps: int, refresh_s: float = 0.5) -> None:
        console = Console(stderr=True)
        self.enabled = enabled and console.is_terminal
        self.epochs = epochs
        self.refresh_s = refresh_s
        self._last = 0.0
        self._bar = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("loss {task.fields[loss]}"),
            TextColumn("{task.fields[rate]} samples/s"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
            disable=not self.enabled,
        )
        self._task = self._bar.add_task("training", total=total_steps, loss="-", rate="-")
        self._samples = 0
        self._since = time.monotonic()

    def __enter__(self) -> TrainProgress:
        if self.enabled:
            self._bar.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self.enabled:
            self._bar.stop()

    def start_epoch(self, epoch: int) -> None:
        """Label the bar with the 1-based ``epoch`` about to run."""
        if self.enabled:
            self._bar.update(self._task, description=f"epoch {epoch}/{self.epochs}")

    def advance(self, loss: torch.Tensor, samples: int = 0) -> None:
        """Count one step of ``samples`` samples; refresh the loss and the rate at most every ``refresh_s``."""
        if not self.enabled:
            return
        self._samples += samples
        now = time.monotonic()
        if now - self._last >= self.refresh_s:
            rate = self._samples / max(now - self._since, 1e-9)
            self._last, self._samples, self._since = now, 0, now
            self._bar.update(self._task, advance=1, loss=f"{float(loss.detach()):.4g}", rate=f"{rate:.0f}")
        else:
            self._bar.update(self._task, advance=1)

    def end_epoch(self, epoch: int, mean_loss: float, seconds: float) -> None:
        """Print a permanent line with the epoch's mean loss above the bar."""
        if self.enabled:
            self._bar.update(self._task, loss=f"{mean_loss:.4g}")
            self._bar.console.log(f"epoch {epoch}/{self.epochs}  loss {mean_loss:.6g}  ({seconds:.1f} s)")
