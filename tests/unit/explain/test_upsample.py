"""An impulse in the score map becomes a Gaussian of the configured σ at the cell's input position."""

from __future__ import annotations

import pytest
import torch

from seedlens.errors import ConfigError, ShapeError
from seedlens.explain import ReceptiveFieldUpsampler
from seedlens.models import FCDDNet, ReceptiveField, create_backbone


def _moments(heat: torch.Tensor) -> tuple[list[float], list[float]]:
    """Centre of mass and standard deviation along each axis of a non-negative map."""
    heat = heat.double()
    total = heat.sum()
    centres, stds = [], []
    for axis in range(heat.ndim):
        others = tuple(a for a in range(heat.ndim) if a != axis)
        profile = heat.sum(dim=others) if others else heat
        idx = torch.arange(profile.numel(), dtype=torch.float64)
        mean = float((profile * idx).sum() / total)
        centres.append(mean)
        stds.append(float(((profile * (idx - mean) ** 2).sum() / total).sqrt()))
    return centres, stds


@pytest.mark.parametrize(
    ("rf", "sigma", "map_shape", "cell", "out"),
    [
        (ReceptiveField(16, 4, 1.5), 2.0, (7, 7), (3, 4), (28, 28)),  # fcdd28
        (ReceptiveField(22, 4, 1.5), 3.0, (8, 9), (2, 6), (32, 37)),  # fcdd32, odd width
        (ReceptiveField(62, 8, 3.5), 8.0, (6, 6), (2, 3), (48, 48)),  # fcdd224 geometry, σ as on ImageNet
        (ReceptiveField(17, 4, 6.0), 2.5, (6, 6), (2, 2), (29, 30)),  # unpadded net: positive shift
        (ReceptiveField(9, 2, -1.0), 1.2, (10, 10), (4, 5), (19, 20)),  # over-padded net: negative shift
    ],
)
def test_impulse_becomes_centred_gaussian_2d(
    rf: ReceptiveField, sigma: float, map_shape: tuple[int, int], cell: tuple[int, int], out: tuple[int, int]
) -> None:
    up = ReceptiveFieldUpsampler(rf, spatial_dims=2, sigma=sigma)
    score = torch.zeros(1, 1, *map_shape)
    score[(0, 0, *cell)] = 1.0
    heat = up(score, out)
    assert heat.shape == (1, 1, *out)
    centres, stds = _moments(heat[0, 0])
    for axis in range(2):
        assert abs(centres[axis] - rf.centre(cell[axis])) <= 1.0
        assert stds[axis] == pytest.approx(sigma, rel=0.05)
    peak = torch.nonzero(heat[0, 0] == heat.max())[0].tolist()
    assert all(abs(p - rf.centre(c)) <= 1.0 for p, c in zip(peak, cell, strict=True))


def test_impulse_becomes_centred_gaussian_3d() -> None:
    rf = ReceptiveField(26, 4, 1.5)  # fcdd3d
    up = ReceptiveFieldUpsampler(rf, spatial_dims=3, sigma=3.0)
    score = torch.zeros(2, 1, 8, 8, 8)
    score[1, 0, 3, 4, 5] = 2.0
    heat = up(score, (32, 31, 33))
    assert heat.shape == (2, 1, 32, 31, 33)
    assert float(heat[0].abs().max()) == 0.0
    centres, stds = _moments(heat[1, 0])
    for axis, cell in enumerate((3, 4, 5)):
        assert abs(centres[axis] - rf.centre(cell)) <= 1.0
        assert stds[axis] == pytest.approx(3.0, rel=0.05)


@pytest.mark.parametrize("size", [(27, 28), (28, 27), (31, 33), (1, 1), (64, 50)])
def test_output_size_is_exact(size: tuple[int, int]) -> None:
    up = ReceptiveFieldUpsampler(ReceptiveField(16, 4, 1.5), spatial_dims=2, sigma=1.2)
    assert up(torch.rand(3, 1, 7, 7), size).shape == (3, 1, *size)


def test_level_is_kept_and_kernel_is_fixed() -> None:
    up = ReceptiveFieldUpsampler(ReceptiveField(16, 4, 1.5), spatial_dims=2, sigma=3.0)
    heat = up(torch.full((1, 1, 8, 8), 2.0), (32, 32))
    assert float(heat[0, 0, 8:24, 8:24].mean()) == pytest.approx(2.0, rel=0.01)
    assert list(up.parameters()) == []
    assert "kernel_1d" not in up.state_dict()


def test_fcdd_net_map_upsamples_to_input_size() -> None:
    net = FCDDNet(create_backbone("fcdd28", in_channels=1)).eval()
    up = ReceptiveFieldUpsampler(net.receptive_field, net.spatial_dims, sigma=1.2)
    x = torch.rand(2, 1, 28, 28)
    with torch.no_grad():
        heat = up(net(x) ** 2, x.shape[2:])
    assert heat.shape == (2, 1, 28, 28)


def test_gradients_flow_through_the_upsampler() -> None:
    up = ReceptiveFieldUpsampler(ReceptiveField(6, 2, 0.5), spatial_dims=2, sigma=1.0)
    score = torch.rand(1, 1, 5, 5, requires_grad=True)
    up(score, (10, 10)).sum().backward()
    assert score.grad is not None and float(score.grad.abs().min()) > 0


def test_invalid_configuration_and_input() -> None:
    with pytest.raises(ConfigError):
        ReceptiveFieldUpsampler(ReceptiveField(16, 4, 1.5), 2, sigma=0)
    with pytest.raises(ConfigError):
        ReceptiveFieldUpsampler(ReceptiveField(16, 4, 1.5), 4, sigma=1)
    up = ReceptiveFieldUpsampler(ReceptiveField(16, 4, 1.5), 2, sigma=1.0)
    with pytest.raises(ShapeError, match=r"\(7, 7\)"):
        up(torch.zeros(7, 7), (28, 28))
    with pytest.raises(ShapeError):
        up(torch.zeros(1, 1, 7, 7), (28, 28, 28))


def test_dtype_is_kept_under_autocast() -> None:
    up = ReceptiveFieldUpsampler(ReceptiveField(16, 4, 1.5), spatial_dims=2, sigma=2.0)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert up(torch.rand(1, 1, 7, 7), (28, 28)).dtype == torch.float32
        assert up(torch.rand(1, 1, 7, 7, dtype=torch.bfloat16), (28, 28)).dtype == torch.bfloat16
