"""The paper's architectures reproduce the published map sizes and receptive fields."""

from __future__ import annotations

import pytest
import torch

from seedlens.errors import ConfigError
from seedlens.models import FCDDNet, create_backbone


@pytest.mark.parametrize(
    ("name", "channels", "size", "map_size", "extent"),
    [
        ("fcdd28", 1, 28, 7, 16),
        ("fcdd32", 3, 32, 8, 22),
        ("fcdd224", 3, 224, 28, 62),
    ],
)
def test_paper_map_sizes_and_receptive_fields(name: str, channels: int, size: int, map_size: int, extent: int) -> None:
    # The arithmetic gives exactly the paper's RFs (16 / 22 / 62): the 2×2 pools add (2-1)*jump each, which
    # the paper counts too, so no discrepancy needs explaining.
    backbone = create_backbone(name, in_channels=channels)
    net = FCDDNet(backbone).eval()
    assert net.receptive_field.extent == extent
    assert net.spatial_dims == 2
    batch = 1 if name == "fcdd224" else 2
    with torch.no_grad():
        phi = net(torch.rand(batch, channels, size, size))
    assert phi.shape == (batch, 1, map_size, map_size)


def test_fcdd224_narrow_channels_keep_the_receptive_field() -> None:
    net = create_backbone("fcdd224", in_channels=1, channels=(8, 8, 16, 16, 16, 16))
    assert net.receptive_field.extent == 62 and net.out_channels == 16
    with pytest.raises(ConfigError):
        create_backbone("fcdd224", in_channels=1, channels=(8, 8))


def test_fcdd3d_on_a_small_volume() -> None:
    net = FCDDNet(create_backbone("fcdd3d", in_channels=1, channels=(4, 8, 8))).eval()
    assert (net.receptive_field.extent, net.receptive_field.jump) == (26, 4)
    with torch.no_grad():
        assert net(torch.rand(2, 1, 32, 32, 32)).shape == (2, 1, 8, 8, 8)
    assert net.spatial_dims == 3


def test_spectral_any_band_count() -> None:
    for bands in (7, 150):
        net = FCDDNet(create_backbone("spectral", in_channels=bands, spectral_channels=(8,), spatial_channels=(8, 8)))
        with torch.no_grad():
            assert net.eval()(torch.rand(1, bands, 16, 16)).shape == (1, 1, 8, 8)


@pytest.mark.parametrize(
    ("name", "options"),
    [
        ("fcdd3d", {"channels": (0, 4)}),
        ("fcdd3d", {"norm": "layer"}),
        ("spectral", {"spatial_channels": "abc"}),
        ("fcdd28", {"in_channels": -1}),
        ("efficientnet_lite0", {"in_channels": 4, "pretrained": False}),
        ("efficientnet_lite0", {"stages": 9, "pretrained": False}),
    ],
)
def test_invalid_option_values(name: str, options: dict[str, object]) -> None:
    options = {"in_channels": 3, **options}
    with pytest.raises(ConfigError):
        create_backbone(name, **options)  # type: ignore[arg-type]


def test_fcdd_net_head_has_a_bias() -> None:
    net = FCDDNet(create_backbone("fcdd28", in_channels=1))
    assert net.head.conv.bias is not None
    with pytest.raises(TypeError):
        FCDDNet(torch.nn.Conv2d(1, 1, 3))  # type: ignore[arg-type]
