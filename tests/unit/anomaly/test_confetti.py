import pytest
import torch

from seedlens.anomaly import ConfettiNoise, SpectralConfetti
from seedlens.anomaly.confetti import MIN_CHANGE
from seedlens.data.synthetic import make_seed_cube, make_seed_slice
from seedlens.errors import ConfigError, ShapeError


def _g(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _slice(seed=0, size=48):
    x = torch.from_numpy(make_seed_slice(size, rng=seed).image)
    return (x - x.min()) / (x.max() - x.min())


def test_mask_marks_exactly_the_changed_pixels():
    confetti = ConfettiNoise(2, value_range=(0.0, 1.0))
    for seed in range(10):
        x = _slice(seed)
        y, mask = confetti(x, _g(seed))
        assert y.shape == x.shape and mask.shape == (1, 48, 48)
        assert set(mask.unique().tolist()) <= {0.0, 1.0}
        assert mask.sum() > 0  # at least one blob
        change = (y - x).abs().amax(dim=0, keepdim=True)
        assert change[mask.bool()].min() > 0.01
        assert change[~mask.bool()].max() <= 0.01 + 1e-6


def test_blob_colours_differ_per_channel_and_blobs_have_size():
    confetti = ConfettiNoise(2, value_range=(0.0, 1.0), max_blobs=1)
    x = torch.full((3, 64, 64), 0.5)
    y, mask = confetti(x, _g(1))
    delta = (y - x)[:, mask[0].bool()].mean(dim=1)
    assert delta.unique().numel() == 3  # a random colour per channel
    side = mask.sum().sqrt().item() / 64
    assert 0.02 < side < 0.4  # blob sides 3-22 % of the image, blurred


def test_sign_flips_when_adding_changes_nothing():
    confetti = ConfettiNoise(2, value_range=(0.0, 1.0), intensity=(0.5, 1.0))
    for seed in range(5):
        white = torch.ones(1, 32, 32)
        y, mask = confetti(white, _g(seed))
        assert mask.sum() > 0 and (y <= 1.0).all()
        assert (white - y)[mask.bool()].mean() >= MIN_CHANGE  # went darker
        black = torch.zeros(1, 32, 32)
        y, mask = confetti(black, _g(seed))
        assert mask.sum() > 0 and (y >= 0.0).all() and y[mask.bool()].mean() >= MIN_CHANGE


def test_clamps_to_value_range_and_own_range():
    x = torch.rand(2, 40, 40)
    y, _ = ConfettiNoise(2, value_range=(0.0, 1.0), intensity=(1.0, 1.0))(x, _g(0))
    assert y.min() >= 0.0 and y.max() <= 1.0
    z = torch.randn(1, 40, 40)  # standardised input: its own min/max is the range
    y, mask = ConfettiNoise(2)(z, _g(0))
    assert y.min() >= z.min() and y.max() <= z.max() and mask.sum() > 0


def test_visible_on_low_contrast_input():
    x = 0.5 + 0.02 * _slice(3)  # a faint image in [0.5, 0.52]
    y, mask = ConfettiNoise(2)(x, _g(3))  # own range
    span = (x.max() - x.min()).item()
    assert mask.sum() > 0
    assert (y - x).abs()[mask.bool()].mean() > MIN_CHANGE * span


def test_three_d():
    confetti = ConfettiNoise(3)
    x = torch.rand(1, 20, 24, 28)
    for seed in range(4):
        y, mask = confetti(x, _g(seed))
        assert y.shape == x.shape and mask.shape == (1, 20, 24, 28)
        assert mask.sum() > 0
    with pytest.raises(ShapeError, match=r"\(C, D, H, W\)"):
        confetti(torch.rand(1, 20, 24))


def test_deterministic_with_seeded_generator_and_keeps_dtype():
    confetti = ConfettiNoise(2, value_range=(0.0, 1.0))
    x = _slice(1).double()
    a, ma = confetti(x, _g(7))
    b, mb = confetti(x, _g(7))
    c, _ = confetti(x, _g(8))
    assert a.dtype == torch.float64
    assert torch.equal(a, b) and torch.equal(ma, mb)
    assert not torch.equal(a, c)


def test_config_errors():
    with pytest.raises(ConfigError, match="spatial_dims"):
        ConfettiNoise(spatial_dims=1)
    with pytest.raises(ConfigError, match="max_blobs"):
        ConfettiNoise(max_blobs=0)
    with pytest.raises(ConfigError, match="blob_fraction"):
        ConfettiNoise(blob_fraction=(0.5, 0.1))
    with pytest.raises(ConfigError, match="value_range"):
        ConfettiNoise(value_range=(1.0, 0.0))
    with pytest.raises(ConfigError, match="modes"):
        SpectralConfetti(modes=("blur",))


def _cube(seed=0):
    return torch.from_numpy(make_seed_cube(32, 32, rng=seed).cube)


def test_spectral_confetti_changes_spectra_inside_the_mask():
    for mode in ("shift", "slope", "swap"):
        sc = SpectralConfetti(modes=(mode,))
        for seed in range(4):
            x = _cube(seed)
            y, mask = sc(x, _g(seed))
            assert y.shape == x.shape and mask.shape == (1, 32, 32)
            assert mask.sum() > 0
            change = (y - x).abs().amax(dim=0)
            span = (x.max() - x.min()).item()
            assert change[~mask[0].bool()].max() <= 0.01 * span + 1e-6
            assert y.min() >= x.min() and y.max() <= x.max()


def test_spectral_confetti_on_flat_spectra_still_visible():
    x = torch.full((16, 24, 24), 0.3)
    y, mask = SpectralConfetti(modes=("shift",), value_range=(0.0, 1.0))(x, _g(0))  # a shift of flat spectra: none
    assert mask.sum() > 0
    assert (y - x).abs().mean(dim=0).max() > MIN_CHANGE  # the core of a blob changes clearly


def test_spectral_confetti_deterministic():
    x = _cube(2)
    a, ma = SpectralConfetti()(x, _g(3))
    b, mb = SpectralConfetti()(x, _g(3))
    assert torch.equal(a, b) and torch.equal(ma, mb)
    with pytest.raises(ShapeError, match="bands"):
        SpectralConfetti()(torch.rand(1, 4, 8, 8))
