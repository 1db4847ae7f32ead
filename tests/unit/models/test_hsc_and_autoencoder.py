from __future__ import annotations

import pytest
import torch

from seedlens.errors import ShapeError
from seedlens.models import ConvAutoencoder, HSCNet, create_backbone


def test_hsc_net_gives_one_vector_per_sample() -> None:
    net = HSCNet(create_backbone("fcdd32", in_channels=3), dim=16).eval()
    with torch.no_grad():
        assert net(torch.rand(3, 3, 32, 32)).shape == (3, 16)
    vol = HSCNet(create_backbone("fcdd3d", in_channels=1, channels=(4, 4)), dim=5).eval()
    with torch.no_grad():
        assert vol(torch.rand(2, 1, 12, 12, 12)).shape == (2, 5)
    assert vol.spatial_dims == 3


@pytest.mark.parametrize(("dims", "shape"), [(2, (2, 3, 32, 32)), (3, (2, 1, 16, 16, 16))])
def test_autoencoder_reconstructs_the_input_shape(dims: int, shape: tuple[int, ...]) -> None:
    ae = ConvAutoencoder(dims, in_channels=shape[1], base_channels=4, depth=3)
    out = ae(torch.rand(shape))
    assert out.shape == shape
    assert ae.encode(torch.rand(shape)).shape == (shape[0], 16, *([s // 8 for s in shape[2:]]))


@pytest.mark.parametrize("shape", [(1, 1, 30, 33), (1, 1, 7, 9)])
def test_autoencoder_crops_back_sizes_not_divisible_by_2_to_the_depth(shape: tuple[int, ...]) -> None:
    ae = ConvAutoencoder(2, in_channels=1, base_channels=4, depth=3).eval()
    assert ae(torch.rand(shape)).shape == shape


def test_autoencoder_learns_to_reconstruct() -> None:
    torch.manual_seed(0)
    ae = ConvAutoencoder(2, in_channels=1, base_channels=8, depth=2)
    x = torch.rand(8, 1, 16, 16)
    optimiser = torch.optim.Adam(ae.parameters(), lr=1e-2)
    first = None
    for _ in range(40):
        loss = ((ae(x) - x) ** 2).mean()
        first = first if first is not None else loss.item()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    assert loss.item() < 0.5 * first


def test_autoencoder_rejects_wrong_input() -> None:
    ae = ConvAutoencoder(2, in_channels=3, base_channels=4, depth=1)
    with pytest.raises(ShapeError, match=r"\(4, 32, 32\)"):
        ae(torch.rand(4, 32, 32))
    with pytest.raises(ShapeError, match="C=3"):
        ae(torch.rand(1, 1, 32, 32))
