"""Exact Shapley values of a few players (modalities) from the value of every coalition."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from math import factorial

import numpy as np

from seedlens.errors import ConfigError

#: Most players exact enumeration accepts (2**12 = 4096 coalitions).
MAX_PLAYERS = 12


def coalitions(n: int) -> np.ndarray:
    """All ``2**n`` coalitions as a ``(2**n, n)`` bool array; row ``k`` holds the bits of ``k`` (row 0 = empty)."""
    if not 0 <= n <= MAX_PLAYERS:
        raise ConfigError(f"exact Shapley values need 0..{MAX_PLAYERS} players; got {n} (choose fewer modalities)")
    k = np.arange(2**n)[:, None]
    return ((k >> np.arange(n)[None, :]) & 1).astype(bool)


def shapley_values(values: Sequence[float] | np.ndarray, n: int) -> np.ndarray:
    """Shapley value of each of ``n`` players from the values of all ``2**n`` coalitions.

    ``phi_j = sum over S not containing j of |S|! (n - |S| - 1)! / n! * (v(S + j) - v(S))``; the values sum to
    ``v(all) - v(empty)`` (efficiency).

    Args:
        values: ``(2**n,)`` or ``(2**n, K)``: the value of coalition ``k`` (bits of ``k`` as in :func:`coalitions`).
        n: Number of players.

    Returns:
        ``(n,)`` or ``(n, K)`` Shapley values.

    Raises:
        ConfigError: ``values`` does not hold ``2**n`` rows or ``n`` is out of range.
    """
    table = np.asarray(values, dtype=np.float64)
    members = coalitions(n)
    if table.shape[0] != 2**n:
        raise ConfigError(f"need the values of all {2**n} coalitions of {n} players; got {table.shape[0]}")
    weights = [factorial(s) * factorial(n - s - 1) / factorial(n) for s in range(n)]
    sizes = members.sum(axis=1)
    phi = np.zeros((n, *table.shape[1:]), dtype=np.float64)
    for j in range(n):
        bit = 1 << j
        without = np.nonzero(~members[:, j])[0]
        for k in without:
            phi[j] += weights[sizes[k]] * (table[k | bit] - table[k])
    return phi


def shapley_from_function(value: Callable[[np.ndarray], np.ndarray], n: int) -> tuple[np.ndarray, np.ndarray]:
    """Evaluate ``value`` on every coalition at once and return ``(phi, values)``.

    Args:
        value: Maps a ``(2**n, n)`` bool coalition matrix to ``(2**n,)`` or ``(2**n, K)`` values.
        n: Number of players.
    """
    table = np.asarray(value(coalitions(n)), dtype=np.float64)
    return shapley_values(table, n), table
