from __future__ import annotations

import pytest
import torch
from torch import nn

from seedlens.errors import ConfigError, UnknownNameError
from seedlens.models import FeatureBuilder, conv_cls, make_activation, norm_cls, pool_cls


def test_factories_pick_the_dimension() -> None:
    assert conv_cls(2) is nn.Conv2d and conv_cls(3) is nn.Conv3d
    assert pool_cls(3, "max") is nn.MaxPool3d and pool_cls(2, "avg") is nn.AvgPool2d
    assert norm_cls(3, "batch") is nn.BatchNorm3d and norm_cls(2, "instance") is nn.InstanceNorm2d
    assert norm_cls(2, "group") is nn.GroupNorm and norm_cls(3, None) is nn.Identity


def test_factories_reject_bad_input() -> None:
    with pytest.raises(ConfigError):
        conv_cls(4)
    with pytest.raises(UnknownNameError):
        pool_cls(2, "median")
    with pytest.raises(UnknownNameError):
        norm_cls(2, "layer")
    with pytest.raises(UnknownNameError, match="leaky_relu"):
        make_activation("leaky-relu")


def test_builder_tracks_channels_and_receptive_field() -> None:
    b = FeatureBuilder(spatial_dims=2, in_channels=1)
    b.conv(8, kernel=5, padding=2, bias=False).norm().act("leaky_relu").pool(2)
    assert b.out_channels == 8
    assert (b.receptive_field.extent, b.receptive_field.jump, b.receptive_field.shift) == (6, 2, 0.5)
    net = b.build()
    assert isinstance(net, nn.Sequential) and len(net) == 4
    assert net(torch.zeros(2, 1, 28, 28)).shape == (2, 8, 14, 14)


@pytest.mark.parametrize("norm", ["batch", "instance", "group", None])
def test_builder_3d_with_every_norm(norm: str | None) -> None:
    b = FeatureBuilder(3, 2).conv(6, kernel=3, padding=1).norm(norm, groups=4).act("relu").pool(2, kind="avg")
    out = b.build()(torch.rand(2, 2, 8, 8, 8))
    assert out.shape == (2, 6, 4, 4, 4)
    if norm == "group":
        assert isinstance(b.build()[1], nn.GroupNorm) and b.build()[1].num_groups == 3  # largest divisor of 6 <= 4


def test_builder_even_unpadded_kernel_output_size() -> None:
    b = FeatureBuilder(2, 1).conv(2, kernel=4).pool(3, stride=2, padding=1)
    assert b.build()(torch.zeros(1, 1, 20, 20)).shape == (1, 2, 9, 9)
    assert b.receptive_field.extent == 4 + 2 and b.receptive_field.jump == 2


def test_builder_rejects_bad_channels() -> None:
    with pytest.raises(ConfigError):
        FeatureBuilder(2, 0)
    with pytest.raises(ConfigError):
        FeatureBuilder(2, 1).conv(0)
