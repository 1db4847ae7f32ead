from __future__ import annotations

import dataclasses

import pytest

from seedlens.errors import ConfigError
from seedlens.models import ReceptiveField


def test_identity_field() -> None:
    rf = ReceptiveField()
    assert (rf.extent, rf.jump, rf.shift) == (1, 1, 0)
    assert rf.centre(5) == 5


def test_padded_conv_keeps_centres() -> None:
    rf = ReceptiveField().after(5, padding=2)
    assert (rf.extent, rf.jump, rf.shift) == (5, 1, 0)


def test_unpadded_conv_shifts_by_half_kernel() -> None:
    rf = ReceptiveField().after(3)
    assert (rf.extent, rf.jump, rf.shift) == (3, 1, 1)
    assert rf.centre(0) == 1  # output 0 looks at inputs 0..2


def test_pool_and_dilation_arithmetic() -> None:
    rf = ReceptiveField().after(2, stride=2).after(3, dilation=2, padding=2)
    # pool: r=2, s=0.5, j=2; conv k_eff=5: r=2+4*2=10, s=0.5+(2-2)*2=0.5
    assert (rf.extent, rf.jump, rf.shift) == (10, 2, 0.5)
    assert rf.centre(3) == 6.5


def test_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        ReceptiveField().extent = 3  # type: ignore[misc]


@pytest.mark.parametrize(
    "kwargs", [{"kernel": 0}, {"kernel": 3, "stride": 0}, {"kernel": 3, "padding": -1}, {"kernel": 3, "dilation": 0}]
)
def test_invalid_layers_are_rejected(kwargs: dict[str, int]) -> None:
    with pytest.raises(ConfigError):
        ReceptiveField().after(**kwargs)
