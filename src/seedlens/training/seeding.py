"""Seeds and random-number-generator state: derive, set, capture and restore.

The loop's own randomness (batch order, the generator handed to the step) is re-derived from
``(seed, epoch, step)`` with :func:`derive_seed`, so it needs no saved state. The *global* generators that
models and user code draw from (python ``random``, numpy, torch CPU and CUDA, e.g. for dropout) are captured
in every checkpoint with :func:`rng_state` and restored with :func:`set_rng_state`.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch


def derive_seed(*keys: int) -> int:
    """Mix integer ``keys`` (e.g. ``seed, epoch, step``) into one well-spread 63-bit seed.

    Neighbouring keys give unrelated seeds (unlike ``seed + epoch``), so streams of different epochs and steps
    never overlap.
    """
    words = np.random.SeedSequence(list(keys)).generate_state(2, dtype=np.uint32)
    return (int(words[0]) << 31) ^ int(words[1])


def seed_everything(seed: int) -> None:
    """Seed python ``random``, numpy and torch (CPU and every CUDA device) with ``seed``.

    Call it before building a model so its initial weights are reproducible.
    """
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # also seeds every CUDA device


def rng_state() -> dict[str, Any]:
    """Capture the global generators' states as data :func:`torch.load` reads with ``weights_only=True``.

    Returns:
        ``{"python", "numpy", "torch", "cuda"}``; ``cuda`` is a list with one state per visible device, empty
        when CUDA is not initialised.
    """
    np_state = np.random.get_state(legacy=False)
    return {
        "python": random.getstate(),
        "numpy": {
            "bit_generator": np_state["bit_generator"],
            "key": torch.from_numpy(np_state["state"]["key"].astype(np.int64)),
            "pos": int(np_state["state"]["pos"]),
            "has_gauss": int(np_state["has_gauss"]),
            "gauss": float(np_state["gauss"]),
        },
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else [],
    }


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore the global generators from :func:`rng_state`'s output.

    CUDA states are restored only when there are as many visible devices as when they were captured (a CUDA
    checkpoint resumed on CPU keeps the CPU states only).
    """
    random.setstate(_as_tuples(state["python"]))
    np_state = state["numpy"]
    np.random.set_state(
        {
            "bit_generator": np_state["bit_generator"],
            "state": {"key": np_state["key"].numpy().astype(np.uint32), "pos": np_state["pos"]},
            "has_gauss": np_state["has_gauss"],
            "gauss": np_state["gauss"],
        }
    )
    torch.set_rng_state(state["torch"])
    cuda = state.get("cuda") or []
    if cuda and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(cuda)


@contextmanager
def preserved_rng() -> Iterator[None]:
    """Run a block without disturbing the global generators: their states are restored when it exits.

    The loop runs user hooks inside it, so a hook that draws random numbers (an evaluation with dropout,
    sampling a few images to plot) cannot make a straight run differ from a resumed one.
    """
    saved = rng_state()
    try:
        yield
    finally:
        set_rng_state(saved)


def _as_tuples(value: Any) -> Any:
    """Turn lists back into the nested tuples ``random.setstate`` insists on."""
    return tuple(_as_tuples(v) for v in value) if isinstance(value, (list, tuple)) else value
