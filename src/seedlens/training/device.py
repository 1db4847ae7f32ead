"""Pick the device and the numeric precision a run trains with."""

from __future__ import annotations

import torch

from seedlens.errors import ConfigError

PRECISIONS = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}
"""Precision name -> autocast dtype (None: no autocast)."""


def select_device(name: str = "auto", local_rank: int | None = None) -> torch.device:
    """Resolve a device name to a :class:`torch.device` that exists on this machine.

    Args:
        name: ``"auto"`` (CUDA when available, else CPU), ``"cpu"``, ``"mps"``, ``"cuda"`` or ``"cuda:N"``.
        local_rank: The process's ``LOCAL_RANK`` under torchrun; ``"auto"`` and ``"cuda"`` then mean
            ``cuda:local_rank`` so every process drives its own GPU.

    Returns:
        The device.

    Raises:
        ConfigError: the name is unknown, or names a device this machine does not have, or names one GPU
            index while several processes would share it.
    """
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cpu":
        return torch.device("cpu")
    if name == "mps":
        if not torch.backends.mps.is_available():
            raise ConfigError("device 'mps' requested but MPS is not available on this machine")
        return torch.device("mps")
    if name == "cuda" or name.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise ConfigError(f"device {name!r} requested but CUDA is not available; use 'cpu' or 'auto'")
        if name == "cuda":
            return torch.device("cuda", local_rank or 0)
        if local_rank is not None:
            raise ConfigError(
                f"device {name!r} pins one GPU, but under torchrun each process uses cuda:LOCAL_RANK; "
                "use device='cuda' or 'auto' (choose GPUs with CUDA_VISIBLE_DEVICES)"
            )
        index = int(name.split(":", 1)[1])
        count = torch.cuda.device_count()
        if index >= count:
            raise ConfigError(f"device {name!r} does not exist; this machine has {count} CUDA device(s)")
        return torch.device("cuda", index)
    raise ConfigError(f"unknown device {name!r}; expected auto, cpu, mps, cuda or cuda:N")


def select_precision(device: torch.device, amp: bool) -> str:
    """Return the precision a run uses: ``"bf16"`` or ``"fp16"`` with AMP on CUDA, else ``"fp32"``.

    bf16 is preferred where the GPU supports it: same range as fp32, so no gradient scaler is needed.
    fp16 (older GPUs) is paired with a :class:`torch.amp.GradScaler` by the loop.
    """
    if not amp or device.type != "cuda":
        return "fp32"
    return "bf16" if torch.cuda.is_bf16_supported(including_emulation=False) else "fp16"
