"""Random-state helpers shared by the phantom generators."""

from __future__ import annotations

import numpy as np

RNGLike = np.random.Generator | int | None


def child_generators(rng: RNGLike, n: int) -> list[np.random.Generator]:
    """Independent generators derived from ``rng`` (same int -> same children; a Generator is advanced)."""
    if isinstance(rng, np.random.Generator):
        seq = np.random.SeedSequence(rng.integers(0, 2**63, size=4).tolist())
    elif rng is None or isinstance(rng, (int, np.integer)):
        seq = np.random.SeedSequence(None if rng is None else int(rng))
    else:
        raise TypeError(f"rng must be a numpy Generator, an int or None; got {type(rng).__name__}")
    return [np.random.default_rng(s) for s in seq.spawn(n)]


def random_rotation(rng: np.random.Generator) -> np.ndarray:
    """A uniformly random 3×3 rotation matrix (from a random unit quaternion)."""
    q = rng.normal(size=4)
    w, x, y, z = q / np.linalg.norm(q)
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )


def random_unit_vector(rng: np.random.Generator, dims: int = 3) -> np.ndarray:
    """A uniformly random unit vector."""
    v = rng.normal(size=dims)
    return v / np.linalg.norm(v)


def check_defect(defect: str | None, known: tuple[str, ...]) -> None:
    """Raise UnknownNameError when ``defect`` is not None and not one of ``known``."""
    if defect is not None and defect not in known:
        from seedlens.errors import UnknownNameError

        raise UnknownNameError(f"unknown defect {defect!r}; expected None or one of: {', '.join(known)}")


def check_size(size: int, minimum: int) -> None:
    """Raise ConfigError when ``size`` is not an int >= ``minimum``."""
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < minimum:
        from seedlens.errors import ConfigError

        raise ConfigError(f"size must be an int >= {minimum}; got {size!r}")
