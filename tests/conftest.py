"""Suite-wide settings."""

from __future__ import annotations

import os

if os.environ.get("PYTEST_XDIST_WORKER"):
    # Each xdist worker is one process on its own core: torch's default of one thread per core in every worker
    # oversubscribes the cores, and small convolutions then run several times slower than on one thread.
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # for the CLI and bench subprocesses the tests start
    import torch

    torch.set_num_threads(1)
