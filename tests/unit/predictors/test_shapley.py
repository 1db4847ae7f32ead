"""Exact Shapley values: the textbook properties on games whose answer is known by hand."""

from __future__ import annotations

import numpy as np
import pytest

from seedlens.errors import ConfigError
from seedlens.predictors.shapley import coalitions, shapley_from_function, shapley_values


def test_coalitions_enumerate_bits_in_order():
    table = coalitions(3)
    assert table.shape == (8, 3)
    assert not table[0].any() and table[-1].all()
    assert table[5].tolist() == [True, False, True]  # 5 = 0b101


def test_additive_game_gives_each_player_its_weight_and_interactions_are_split_equally():
    weights = np.array([1.0, 2.0, 3.0])

    def value(c: np.ndarray) -> np.ndarray:
        return c @ weights + 4.0 * (c[:, 0] & c[:, 1])  # players 0 and 1 share a bonus of 4

    phi, table = shapley_from_function(value, 3)
    np.testing.assert_allclose(phi, [3.0, 4.0, 3.0])
    assert phi.sum() == pytest.approx(table[-1] - table[0])  # efficiency


def test_glove_game_by_hand():
    # v = 1 when player 0 (left glove) and at least one of players 1, 2 (right gloves) are in: phi = (2/3, 1/6, 1/6)
    def value(c: np.ndarray) -> np.ndarray:
        return (c[:, 0] & (c[:, 1] | c[:, 2])).astype(float)

    phi, _ = shapley_from_function(value, 3)
    np.testing.assert_allclose(phi, [2 / 3, 1 / 6, 1 / 6])


def test_null_player_gets_zero_and_vector_values_work():
    rng = np.random.default_rng(0)
    base = rng.normal(size=(4, 2))  # values of the 4 coalitions of players 0 and 1, two outputs

    def value(c: np.ndarray) -> np.ndarray:
        index = c[:, 0].astype(int) + 2 * c[:, 1].astype(int)
        return base[index]  # player 2 never matters

    phi, table = shapley_from_function(value, 3)
    assert phi.shape == (3, 2)
    np.testing.assert_allclose(phi[2], 0.0, atol=1e-12)
    np.testing.assert_allclose(phi.sum(axis=0), table[-1] - table[0])


def test_wrong_table_size_and_too_many_players_are_errors():
    with pytest.raises(ConfigError, match="all 8 coalitions"):
        shapley_values(np.zeros(7), 3)
    with pytest.raises(ConfigError, match="fewer modalities"):
        coalitions(13)


def test_single_player_gets_everything():
    assert shapley_values([0.25, 1.0], 1).tolist() == [0.75]
