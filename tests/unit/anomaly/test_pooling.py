"""Score pooling: equal to hand computations, padding excluded by a valid mask, ties, errors."""

from __future__ import annotations

import re

import pytest
import torch

from seedlens.anomaly import POOLINGS, pool_maps
from seedlens.errors import ConfigError, ShapeError, UnknownNameError


def maps() -> torch.Tensor:
    """Two 2x5 maps ``(2, 1, 2, 5)`` whose cells are easy to pool by hand."""
    return torch.tensor([[[[1.0, 2.0, 3.0, 4.0, 5.0], [6.0, 7.0, 8.0, 9.0, 10.0]]],
                         [[[0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 20.0]]]], dtype=torch.float64)


def test_known_poolings():
    assert {"mean", "topk", "max"} == POOLINGS


def test_each_pooling_equals_the_hand_computation():
    x = maps()
    torch.testing.assert_close(pool_maps(x, "mean"), torch.tensor([5.5, 2.0], dtype=torch.float64))
    torch.testing.assert_close(pool_maps(x, "max"), torch.tensor([10.0, 20.0], dtype=torch.float64))
    # 10 cells: topk_fraction 0.3 -> the 3 highest cells
    torch.testing.assert_close(pool_maps(x, "topk", 0.3), torch.tensor([9.0, 20.0 / 3], dtype=torch.float64))
    # fewer than one cell rounds up to one: the max; all cells: the mean
    torch.testing.assert_close(pool_maps(x, "topk", 0.01), pool_maps(x, "max"))
    torch.testing.assert_close(pool_maps(x, "topk", 1.0), pool_maps(x, "mean"))


def test_topk_count_rounds_half_to_even_like_round():
    x = torch.arange(10.0).reshape(1, 1, 2, 5)  # cells 0..9
    assert pool_maps(x, "topk", 0.25).item() == pytest.approx((9 + 8) / 2)  # round(2.5) == 2
    assert pool_maps(x, "topk", 0.35).item() == pytest.approx((9 + 8 + 7 + 6) / 4)  # round(3.5) == 4


def test_volumes_pool_like_images():
    volume = torch.rand(3, 1, 4, 5, 6)
    torch.testing.assert_close(pool_maps(volume, "mean"), volume.flatten(1).mean(dim=1))
    top = volume.flatten(1).sort(dim=1, descending=True).values[:, :12].mean(dim=1)  # 120 cells x 0.1
    torch.testing.assert_close(pool_maps(volume, "topk", 0.1), top)


def test_ties_give_the_same_topk_whichever_tied_cell_is_kept():
    x = torch.tensor([[[[5.0, 5.0, 5.0, 1.0]]]])  # 2 of the three 5s are kept
    assert pool_maps(x, "topk", 0.5).item() == 5.0
    assert pool_maps(x, "max").item() == 5.0


def test_a_one_cell_map_pools_to_its_value():
    x = torch.tensor([[[[3.5]]], [[[-1.0]]]])
    for pooling in POOLINGS:
        torch.testing.assert_close(pool_maps(x, pooling, 0.01), torch.tensor([3.5, -1.0]))


def test_cells_outside_the_valid_mask_never_count():
    x = maps()
    valid = torch.zeros_like(x, dtype=torch.bool)
    valid[0, 0, 0, :2] = True  # sample 0: cells 1, 2
    valid[1, 0, 0, :] = True  # sample 1: the zero row; its 20 is padding
    torch.testing.assert_close(pool_maps(x, "mean", valid=valid), torch.tensor([1.5, 0.0], dtype=torch.float64))
    torch.testing.assert_close(pool_maps(x, "max", valid=valid), torch.tensor([2.0, 0.0], dtype=torch.float64))
    # topk takes its fraction of each sample's valid cells: round(0.5 * 2) = 1 and round(0.5 * 5) = 2
    torch.testing.assert_close(pool_maps(x, "topk", 0.5, valid=valid), torch.tensor([2.0, 0.0], dtype=torch.float64))
    padded = torch.where(valid, x, 1e6)  # whatever the padding holds
    for pooling in POOLINGS:
        torch.testing.assert_close(pool_maps(padded, pooling, 0.5, valid=valid),
                                   pool_maps(x, pooling, 0.5, valid=valid))


def test_a_valid_mask_of_every_cell_changes_nothing():
    x = torch.rand(4, 1, 7, 9)
    for pooling in POOLINGS:
        torch.testing.assert_close(pool_maps(x, pooling, 0.1, valid=torch.ones_like(x, dtype=torch.bool)),
                                   pool_maps(x, pooling, 0.1))


def test_integer_maps_are_pooled_as_floats():
    assert pool_maps(torch.tensor([[[[1, 2]]]]), "mean").item() == 1.5


def test_unknown_pooling_lists_the_known_ones():
    with pytest.raises(UnknownNameError, match=r"'avg'.*max, mean, topk"):
        pool_maps(maps(), "avg")


@pytest.mark.parametrize("shape", [(2, 5), (2, 3, 4, 4), (2, 1, 0, 4)])
def test_maps_that_are_not_n_1_spatial_name_their_shape(shape):
    with pytest.raises(ShapeError, match=r"\(N, 1, \*spatial\).*got shape " + re.escape(str(shape))):
        pool_maps(torch.zeros(shape), "mean")


@pytest.mark.parametrize("fraction", [0.0, -0.1, 1.5])
def test_topk_fraction_outside_0_1_is_refused(fraction):
    with pytest.raises(ConfigError, match=rf"topk_fraction must be in \(0, 1\]; got {fraction}"):
        pool_maps(maps(), "topk", fraction)


def test_bad_valid_masks_are_refused():
    x = maps()
    with pytest.raises(ConfigError, match="bool"):
        pool_maps(x, "mean", valid=torch.ones_like(x))
    with pytest.raises(ShapeError, match=r"shape of maps \(2, 1, 2, 5\); got \(2, 1, 2, 4\)"):
        pool_maps(x, "mean", valid=torch.ones(2, 1, 2, 4, dtype=torch.bool))
    empty = torch.ones_like(x, dtype=torch.bool)
    empty[1] = False
    with pytest.raises(ConfigError, match=r"samples \[1\] have none"):
        pool_maps(x, "topk", valid=empty)

