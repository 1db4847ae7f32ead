"""FusionNet: shapes for every modality subset, exact masking of missing modalities, modality dropout."""

from __future__ import annotations

from itertools import product

import pytest
import torch

from seedlens.errors import ConfigError, ShapeError
from seedlens.models import create_backbone
from seedlens.models.fusion import BackboneEncoder, FusionNet, TableEncoder

DIM = 16
NAMES = ("ct", "hsi", "rgb", "weight")


def make_net(fusion: str, dropout: float = 0.0) -> FusionNet:
    torch.manual_seed(0)
    encoders = {
        "ct": BackboneEncoder(create_backbone("fcdd3d", 1, channels=(4, 8)), DIM),
        "hsi": BackboneEncoder(create_backbone("spectral", 5, spectral_channels=(8,), spatial_channels=(8, 8)), DIM),
        "rgb": BackboneEncoder(create_backbone("conv2d", 3, channels=(4, 8)), DIM),
        "weight": TableEncoder(2, DIM, hidden=8),
    }
    return FusionNet(encoders, {"germination": 3, "oil": 1}, fusion=fusion, dim=DIM, modality_dropout=dropout)


def batch(n: int, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {
        "ct": torch.randn(n, 1, 8, 8, 8, generator=g),
        "hsi": torch.randn(n, 5, 8, 8, generator=g),
        "rgb": torch.randn(n, 3, 8, 8, generator=g),
        "weight": torch.randn(n, 2, generator=g),
    }


SUBSETS = [tuple(bool(b) for b in bits) for bits in product([0, 1], repeat=len(NAMES))]


@pytest.mark.parametrize("fusion", ["attention", "concat"])
def test_every_subset_gives_finite_outputs_and_ignores_masked_inputs(fusion):
    net = make_net(fusion).eval()
    n = len(SUBSETS)
    present = torch.tensor(SUBSETS, dtype=torch.bool)
    first, second = batch(n, seed=1), batch(n, seed=2)
    with torch.no_grad():
        out = net(first, present)
        assert out["germination"].shape == (n, 3) and out["oil"].shape == (n, 1)
        assert all(torch.isfinite(v).all() for v in out.values())
        # replace the values of every masked modality: predictions must not move
        mixed = {k: torch.where(present[:, j].view(-1, *[1] * (v.ndim - 1)), v, second[k])
                 for j, (k, v) in enumerate(first.items())}
        again = net(mixed, present)
    for key in out:
        torch.testing.assert_close(out[key], again[key])
    # the empty subset is the model's prior: identical for every input
    empty = net(second, torch.zeros((2, len(NAMES)), dtype=torch.bool))
    torch.testing.assert_close(empty["germination"][0], empty["germination"][1])


@pytest.mark.parametrize("fusion", ["attention", "concat"])
def test_a_present_modality_changes_the_prediction(fusion):
    net = make_net(fusion).eval()
    present = torch.ones((1, len(NAMES)), dtype=torch.bool)
    with torch.no_grad():
        a = net(batch(1, seed=1), present)["germination"]
        b = net({**batch(1, seed=1), "rgb": batch(1, seed=3)["rgb"]}, present)["germination"]
    assert not torch.allclose(a, b)


def test_modality_dropout_keeps_at_least_one_present_modality():
    net = make_net("attention", dropout=0.9)
    present = torch.tensor([[1, 1, 1, 1], [1, 0, 0, 0], [0, 1, 1, 0]] * 50, dtype=torch.bool)
    torch.manual_seed(0)
    for _ in range(20):
        dropped = net._drop_modalities(present)
        assert not (dropped & ~present).any()  # never reveals a missing modality
        assert dropped.any(dim=1).all()
    assert dropped.sum() < present.sum()  # and it does hide some


def test_bad_configurations_and_inputs_are_named():
    encoders = {"rgb": BackboneEncoder(create_backbone("conv2d", 3, channels=(4,)), 8)}
    with pytest.raises(ConfigError, match="embeddings of 8"):
        FusionNet(encoders, {"y": 2}, dim=16)
    with pytest.raises(ConfigError, match="heads"):
        FusionNet(encoders, {"y": 2}, dim=8, fusion_options={"heads": 3})
    with pytest.raises(ConfigError, match="modality_dropout"):
        FusionNet(encoders, {"y": 2}, dim=8, modality_dropout=1.0)
    net = FusionNet(encoders, {"y": 2}, dim=8)
    with pytest.raises(ShapeError, match=r"present must be \(N, 1\)"):
        net({"rgb": torch.zeros(2, 3, 8, 8)}, torch.ones((2, 2), dtype=torch.bool))
    with pytest.raises(ShapeError, match="no batch was given"):
        net({}, torch.ones((2, 1), dtype=torch.bool))
    with pytest.raises(ShapeError, match="table batch must be"):
        TableEncoder(3, 8)(torch.zeros(2, 4))
