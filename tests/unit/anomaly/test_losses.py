import math

import pytest
import torch

from seedlens.anomaly import fcdd_loss, fcdd_map_loss, hsc_loss, hsc_score, pseudo_huber, reconstruction_error
from seedlens.errors import ShapeError


def _outlier(d: float) -> float:
    return -math.log(1.0 - math.exp(-d))


def test_pseudo_huber_values_and_small_inputs():
    x = torch.tensor([0.0, 1.0, -2.0, 3.0])
    expected = torch.tensor([0.0, math.sqrt(2) - 1, math.sqrt(5) - 1, math.sqrt(10) - 1])
    torch.testing.assert_close(pseudo_huber(x), expected)
    tiny = torch.tensor([1e-4], dtype=torch.float32)
    assert pseudo_huber(tiny).item() == pytest.approx(0.5e-8, rel=1e-4)  # no cancellation to 0


def test_fcdd_loss_hand_computed():
    phi = torch.tensor([[[[0.0, 1.0]]], [[[2.0, 2.0]]]])  # (2, 1, 1, 2)
    a0 = (math.sqrt(2) - 1) / 2
    a1 = math.sqrt(5) - 1
    loss = fcdd_loss(phi, torch.tensor([0, 1]))
    assert loss.item() == pytest.approx((a0 + _outlier(a1)) / 2, rel=1e-6)


def test_fcdd_loss_normals_only_is_mean_of_a():
    phi = torch.randn(4, 1, 5, 6)
    loss = fcdd_loss(phi, torch.zeros(4))
    torch.testing.assert_close(loss, pseudo_huber(phi).mean())


def test_fcdd_loss_gradient_is_finite_near_zero():
    for value in (0.0, 1e-6, 1e-3):
        phi = torch.full((2, 1, 3, 3), value, requires_grad=True)
        loss = fcdd_loss(phi, torch.ones(2))
        loss.backward()
        assert torch.isfinite(loss) and torch.isfinite(phi.grad).all()
    # far from zero, the anomalous term pushes scores up (negative gradient)
    phi = torch.full((1, 1, 2, 2), 0.5, requires_grad=True)
    fcdd_loss(phi, torch.ones(1)).backward()
    assert (phi.grad < 0).all()


def test_fcdd_map_loss_hand_computed():
    a = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]], [[[1.0, 2.0], [3.0, 4.0]]]])
    gt = torch.zeros_like(a)
    gt[1, 0, 1, 1] = 1  # one anomalous pixel in the second sample
    first = (1 + 2 + 3 + 4) / 4
    second = (1 + 2 + 3) / 4 + _outlier(4 / 4)
    loss = fcdd_map_loss(a, gt)
    assert loss.item() == pytest.approx((first + second) / 2, rel=1e-6)
    # all normal maps: the plain mean of A'
    torch.testing.assert_close(fcdd_map_loss(a, torch.zeros_like(a)), a.mean())


def test_fcdd_map_loss_works_in_3d_with_bool_gt_and_finite_gradient():
    a = torch.zeros(2, 1, 3, 3, 3, requires_grad=True)
    gt = torch.zeros(2, 1, 3, 3, 3, dtype=torch.bool)
    gt[0, 0, 1] = True
    loss = fcdd_map_loss(a, gt)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(a.grad).all()


def test_hsc_loss_and_score():
    f = torch.tensor([[0.0, 0.0], [3.0, 4.0]])
    d1 = math.sqrt(26) - 1
    assert hsc_loss(f, torch.tensor([0.0, 1.0])).item() == pytest.approx((0 + _outlier(d1)) / 2, rel=1e-6)
    assert hsc_loss(f, torch.tensor([0, 0])).item() == pytest.approx(d1 / 2, rel=1e-6)
    scores = hsc_score(f)
    assert scores.shape == (2,)
    assert scores[0].item() == 0.0
    assert scores[1].item() == pytest.approx(1 - math.exp(-d1), rel=1e-6)
    radii = torch.linspace(0, 5, 6)[:, None] * torch.ones(6, 3)
    assert (hsc_score(radii).diff() > 0).all()  # higher norm, more anomalous


def test_hsc_gradient_finite_at_centre():
    f = torch.zeros(3, 4, requires_grad=True)
    loss = hsc_loss(f, torch.ones(3))
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(f.grad).all()


def test_reconstruction_error():
    x = torch.zeros(2, 3, 4, 4)
    recon = torch.zeros_like(x)
    recon[0, 0, 1, 2] = 3.0
    err = reconstruction_error(recon, x)
    assert err.shape == (2, 1, 4, 4)
    assert err[0, 0, 1, 2].item() == pytest.approx(3.0)  # 9 / 3 channels
    assert err.sum().item() == pytest.approx(3.0)


def test_shape_errors_name_the_shape():
    with pytest.raises(ShapeError, match=r"\(2, 3, 4, 4\)"):
        fcdd_loss(torch.zeros(2, 3, 4, 4), torch.zeros(2))
    with pytest.raises(ShapeError, match="labels"):
        fcdd_loss(torch.zeros(2, 1, 4, 4), torch.zeros(3))
    with pytest.raises(ShapeError, match="gt"):
        fcdd_map_loss(torch.zeros(2, 1, 4, 4), torch.zeros(2, 1, 4, 5))
    with pytest.raises(ShapeError, match="features"):
        hsc_loss(torch.zeros(2, 3, 4), torch.zeros(2))
    with pytest.raises(ShapeError):
        reconstruction_error(torch.zeros(2, 3, 4, 4), torch.zeros(2, 1, 4, 4))
