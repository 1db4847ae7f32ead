"""Every registered backbone answers the same interface, and its receptive-field bookkeeping is true."""

from __future__ import annotations

import math

import pytest
import torch

from seedlens.errors import ConfigError, ShapeError, UnknownNameError
from seedlens.models import Backbone, FeatureBuilder, create_backbone, list_backbones
from seedlens.models.rf_probe import measure_receptive_field
from seedlens.types import Modality

IN_CHANNELS = 3  # every backbone accepts 3 channels / bands
FAST = {"efficientnet_lite0": {"pretrained": False}, "efficientnet_lite2": {"pretrained": False}}


def build(name: str) -> Backbone:
    torch.manual_seed(0)
    return create_backbone(name, in_channels=IN_CHANNELS, **FAST.get(name, {})).eval()


def probe_size(backbone: Backbone) -> int:
    """Smallest multiple of the jump whose centre cell's receptive field stays inside the input."""
    rf = backbone.receptive_field
    need = rf.extent + 2 * abs(rf.shift) + 2 * rf.jump + 2
    return int(rf.jump * math.ceil(need / rf.jump))


@pytest.fixture(scope="module", params=list_backbones())
def backbone(request: pytest.FixtureRequest) -> Backbone:
    return build(request.param)


def test_registry_lists_the_expected_backbones() -> None:
    assert {"fcdd28", "fcdd32", "fcdd224", "fcdd3d", "spectral", "efficientnet_lite0"} <= set(list_backbones())
    assert list_backbones("fcdd2*") == ["fcdd224", "fcdd28"]


def test_interface_attributes(backbone: Backbone) -> None:
    assert isinstance(backbone, Backbone)
    assert backbone.in_channels == IN_CHANNELS
    assert backbone.spatial_dims == backbone.modality.spatial_dims
    assert backbone.out_channels >= 1
    assert backbone.receptive_field.extent >= 1
    assert backbone.receptive_field.jump >= 1


def test_output_layout_and_channels(backbone: Backbone) -> None:
    jump = int(backbone.receptive_field.jump)
    size = jump * 4
    x = torch.rand(2, IN_CHANNELS, *([size] * backbone.spatial_dims))
    with torch.no_grad():
        y = backbone(x)
    assert y.shape == (2, backbone.out_channels, *([size // jump] * backbone.spatial_dims))
    assert torch.isfinite(y).all()


def test_bookkept_receptive_field_equals_empirical(backbone: Backbone) -> None:
    size = probe_size(backbone)
    measured = measure_receptive_field(backbone, (1, IN_CHANNELS, *([size] * backbone.spatial_dims)))
    rf = backbone.receptive_field
    assert not measured.clipped
    assert measured.extent == (rf.extent,) * backbone.spatial_dims
    assert measured.centre == tuple(rf.centre(o) for o in measured.cell)


def test_wrong_number_of_axes_is_a_shape_error(backbone: Backbone) -> None:
    bad = torch.zeros(IN_CHANNELS, *([16] * backbone.spatial_dims))  # batch axis missing
    with pytest.raises(ShapeError) as error:
        backbone(bad)
    assert str(tuple(bad.shape)) in str(error.value)
    assert {Modality.IMAGE: "(N, C, H, W)", Modality.VOLUME: "(N, C, D, H, W)", Modality.CUBE: "(N, bands, H, W)"}[
        backbone.modality
    ] in str(error.value)


def test_wrong_channel_count_is_a_shape_error(backbone: Backbone) -> None:
    bad = torch.zeros(1, IN_CHANNELS + 2, *([16] * backbone.spatial_dims))
    with pytest.raises(ShapeError) as error:
        backbone(bad)
    message = str(error.value)
    assert str(tuple(bad.shape)) in message
    assert f"has {IN_CHANNELS + 2}" in message and f"built for {IN_CHANNELS}" in message


@pytest.mark.parametrize("name", list_backbones())
def test_unknown_option_is_rejected(name: str) -> None:
    with pytest.raises(ConfigError, match="unknown option"):
        create_backbone(name, in_channels=IN_CHANNELS, **FAST.get(name, {}), no_such_option=1)


def test_unknown_name_lists_close_matches() -> None:
    with pytest.raises(UnknownNameError) as error:
        create_backbone("fcdd23", in_channels=1)
    message = str(error.value)
    assert "fcdd32" in message and "Did you mean" in message and "efficientnet_lite0" in message


def test_cube_band_mismatch_message() -> None:
    net = create_backbone("spectral", in_channels=100)
    with pytest.raises(ShapeError, match="cube has 120 bands but the model was built for 100"):
        net(torch.zeros(1, 120, 8, 8))


def _unpadded_even_dilated(b: FeatureBuilder) -> None:
    # conv k4 p0:        r=4,            s=1.5,             j=1
    # pool 2:            r=4+1=5,        s=1.5+0.5=2.0,     j=2
    # conv k3 d2 (k5):   r=5+4*2=13,     s=2.0+2*2=6.0,     j=2
    # pool k3 s2 p1:     r=13+2*2=17,    s=6.0+(1-1)*2=6.0, j=4
    b.conv(4, kernel=4).act("relu").pool(2).conv(4, kernel=3, dilation=2).pool(3, stride=2, padding=1)


def _even_padded_strided(b: FeatureBuilder) -> None:
    # conv k2 p1:        r=2,            s=0.5-1=-0.5,      j=1
    # conv k3 s2 p0:     r=4,            s=-0.5+1=0.5,      j=2
    # avg pool 2:        r=4+2=6,        s=0.5+0.5*2=1.5,   j=4
    b.conv(4, kernel=2, padding=1).norm("instance").act("leaky_relu").conv(4, kernel=3, stride=2).pool(2, kind="avg")


@pytest.mark.parametrize(
    ("layers", "expected"),
    [(_unpadded_even_dilated, (17, 4, 6.0)), (_even_padded_strided, (6, 4, 1.5))],
)
def test_hand_built_unpadded_and_even_kernels(layers, expected: tuple[float, float, float]) -> None:  # type: ignore[no-untyped-def]
    builder = FeatureBuilder(spatial_dims=2, in_channels=2)
    layers(builder)
    rf = builder.receptive_field
    assert (rf.extent, rf.jump, rf.shift) == expected
    measured = measure_receptive_field(builder.build(), (1, 2, 64, 64))
    assert not measured.clipped
    assert measured.extent == (rf.extent, rf.extent)
    assert measured.centre == (rf.centre(measured.cell[0]), rf.centre(measured.cell[1]))
