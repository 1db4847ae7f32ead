from __future__ import annotations

import pytest
import torch
from torch import nn

from seedlens.errors import ConfigError
from seedlens.models import FeatureBuilder, trace_receptive_field


def test_trace_matches_the_builder() -> None:
    b = FeatureBuilder(2, 1).conv(4, kernel=5, padding=2).act().pool(2).conv(4, kernel=4).pool(3, stride=2, padding=1)
    assert trace_receptive_field(b.build(), torch.zeros(1, 1, 40, 40)) == b.receptive_field


def test_trace_counts_explicit_leading_padding() -> None:
    net = nn.Sequential(nn.ZeroPad2d((0, 1, 0, 1)), nn.Conv2d(1, 1, 3, stride=2), nn.ZeroPad2d(2), nn.Conv2d(1, 1, 5))
    rf = trace_receptive_field(net, torch.zeros(1, 1, 16, 16))
    # pad 0: conv3 s2 -> r=3, s=1, j=2; pad 2 then conv5 -> r=3+4*2=11, s=1+(2-2)*2=1
    assert (rf.extent, rf.jump, rf.shift) == (11, 2, 1)


def test_trace_rejects_what_it_cannot_describe() -> None:
    with pytest.raises(ConfigError, match="isotropic"):
        trace_receptive_field(nn.Conv2d(1, 1, (3, 5)), torch.zeros(1, 1, 8, 8))
    with pytest.raises(ConfigError, match="AdaptiveAvgPool2d"):
        trace_receptive_field(nn.Sequential(nn.Conv2d(1, 1, 3), nn.AdaptiveAvgPool2d(1)), torch.zeros(1, 1, 8, 8))


def test_trace_restores_training_mode() -> None:
    net = nn.Sequential(nn.Conv2d(1, 1, 3), nn.BatchNorm2d(1)).train()
    trace_receptive_field(net, torch.zeros(1, 1, 8, 8))
    assert net.training
