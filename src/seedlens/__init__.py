"""seedlens: explainable deep anomaly detection and multi-modal prediction for deep-phenotyping scans.

Heavy sub-packages (torch models, the hub) are imported lazily; ``import seedlens`` stays fast.
"""

from seedlens.errors import (
    ConfigError,
    NotFittedError,
    ReadError,
    SeedlensError,
    ShapeError,
    UnknownNameError,
)
from seedlens.types import ArrayMeta, Modality

__version__ = "0.1.0"

__all__ = [
    "ArrayMeta",
    "ConfigError",
    "Modality",
    "NotFittedError",
    "ReadError",
    "SeedlensError",
    "ShapeError",
    "UnknownNameError",
    "__version__",
]
