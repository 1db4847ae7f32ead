"""Sliding windows equal one pass over the whole input, leave no seams, and keep memory to the window batch."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from seedlens.errors import ConfigError, ShapeError
from seedlens.explain import ReceptiveFieldUpsampler
from seedlens.inference import CellLayout, ReceptiveFieldScoring, blend_windows, stitch_cells, window_positions
from seedlens.models import FCDDNet, create_backbone


def _network(name: str, in_channels: int = 1, **options) -> FCDDNet:
    torch.manual_seed(0)
    return FCDDNet(create_backbone(name, in_channels=in_channels, **options)).eval()


@pytest.mark.parametrize(
    ("backbone", "channels", "shape", "window"),
    [
        ("fcdd3d", 1, (48, 64, 40), (32, 32, 32)),
        ("fcdd28", 1, (96, 72), (40, 32)),
        ("fcdd32", 3, (80, 96), (48, 48)),
        ("spectral", 6, (64, 48), (32, 32)),
    ],
)
def test_stitched_cells_equal_one_pass_over_the_whole_input(backbone, channels, shape, window):
    options = {"channels": (8, 16, 16)} if backbone == "fcdd3d" else {}
    net = _network(backbone, in_channels=channels, **options)
    layout = CellLayout.of(net.receptive_field)
    x = torch.randn(2, channels, *shape)
    with torch.no_grad():
        whole = net(x)
    calls = []

    def model(batch):
        calls.append(tuple(batch.shape))
        return net(batch)

    stitched = stitch_cells(x, model, window, layout, max_voxels=2 * int(np.prod(window)) * 2)
    assert stitched.shape == whole.shape
    torch.testing.assert_close(stitched, whole, atol=1e-5, rtol=1e-5)
    assert len(calls) > 1 and all(c[2:] == tuple(window) for c in calls)  # windows, never the whole input
    assert max(c[0] for c in calls) <= 4  # at most max_voxels per call: 2 windows of both samples


def test_stitching_leaves_no_seams_on_a_constant_input():
    net = _network("fcdd3d", channels=(8, 16, 16))
    module = ReceptiveFieldScoring(net, net.receptive_field, ReceptiveFieldUpsampler(net.receptive_field, 3, 1.3),
                                   "mean", 0.01)
    x = torch.full((1, 1, 96, 96, 96), 0.7)
    cells = stitch_cells(x, module.anomaly_map, (32, 32, 32), module.layout)
    inner = cells[0, 0, 4:-4, 4:-4, 4:-4]  # cells whose receptive field stays off the input's own border
    assert float(inner.max() - inner.min()) < 1e-6  # the seams of 9 windows per axis cross it: none shows
    heat = module.heatmap(cells, (96, 96, 96))
    with torch.no_grad():
        torch.testing.assert_close(heat, module(x)[1], atol=1e-6, rtol=1e-5)  # the heatmap of one whole pass


def test_a_window_without_a_valid_cell_is_refused_with_the_size_it_needs():
    net = _network("fcdd3d")
    layout = CellLayout.of(net.receptive_field)
    with pytest.raises(ConfigError, match=r"too small for a receptive field of 26.*at least 32"):
        stitch_cells(torch.zeros(1, 1, 64, 64, 64), net, (16, 16, 16), layout)
    with pytest.raises(ShapeError, match="multiples of the map's jump 4"):
        stitch_cells(torch.zeros(1, 1, 62, 64, 64), net, (32, 32, 32), layout)


def test_blending_one_window_is_the_model_itself_and_overlaps_average_smoothly():
    x = torch.randn(3, 2, 40, 40)

    def model(batch):
        return batch[:, :1] * 2.0

    one = blend_windows(x, model, (40, 40))
    torch.testing.assert_close(one, x[:, :1] * 2.0)
    many = blend_windows(x, model, (16, 16), overlap=0.5)
    torch.testing.assert_close(many, x[:, :1] * 2.0, atol=1e-5, rtol=1e-5)  # a pointwise model: exact anywhere
    constant = blend_windows(torch.ones(1, 1, 50, 70), lambda b: torch.ones_like(b[:, :1]), (16, 24))
    torch.testing.assert_close(constant, torch.ones(1, 1, 50, 70))  # weights normalise away: no seams


def test_window_positions_cover_every_axis_and_end_at_its_border():
    positions = window_positions((100, 64), (32, 64), (24, 64))
    starts = sorted({p[0] for p in positions})
    assert starts[0] == 0 and starts[-1] == 68 and all(b - a <= 24 for a, b in itertools.pairwise(starts))
    assert {p[1] for p in positions} == {0}
    with pytest.raises(ConfigError, match="larger than the axis"):
        window_positions((10,), (12,), (4,))
