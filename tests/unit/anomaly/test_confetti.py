import pytest
import torch

from seedlens.anomaly import ConfettiNoise, SpectralConfetti
from seedlens.anomaly.confetti import MIN_CHANGE, foreground_mask, otsu_threshold
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


def _ball(size=32, radius=9.0, value=0.7):
    grid = torch.stack(torch.meshgrid(*[torch.arange(size, dtype=torch.float32)] * 3, indexing="ij"))
    inside = ((grid - (size - 1) / 2) ** 2).sum(0).sqrt() <= radius
    return (inside.float() * value)[None], inside


def test_otsu_and_foreground_split_object_from_background():
    x, inside = _ball()
    noisy = x + 0.03 * torch.randn(x.shape, generator=_g(0))
    t = otsu_threshold(noisy)
    assert 0.08 < t < 0.6  # between the background (0 ± 0.03) and the object (0.7)
    fg = foreground_mask(noisy)
    assert fg.shape == inside.shape and (fg == inside).float().mean() > 0.99


def test_foreground_placement_centres_blobs_on_the_object():
    x, inside = _ball()
    confetti = ConfettiNoise(3, placement="foreground", blob_volume=(0.005, 0.02), max_blobs=1, value_range=(0, 1))
    anywhere = ConfettiNoise(3, blob_volume=(0.0005, 0.002), max_blobs=1, value_range=(0, 1))
    on_object = 0
    for seed in range(12):
        _, mask = confetti(x, _g(seed))
        coords = mask[0].nonzero().float()
        centre = coords.mean(0).round().long()
        assert inside[tuple(centre)]  # the blob's centre lies in the ball
        _, mask = anywhere(x, _g(seed))
        coords = mask[0].nonzero().float().mean(0).round().long()
        on_object += int(inside[tuple(coords)])
    assert on_object < 12  # uniform placement lands in the background too


def test_blob_volume_is_relative_to_the_object():
    x, inside = _ball(radius=10.0)
    for fraction in (0.01, 0.04):
        confetti = ConfettiNoise(
            3,
            placement="foreground",
            blob_volume=(fraction, fraction),
            max_blobs=1,
            shapes=("ellipsoid",),
            sigma=0.3,
            value_range=(0, 1),
            intensity=(0.5, 0.5),
        )
        sizes = [float(((confetti(x, _g(seed))[0] - x).abs() >= 0.25).sum()) for seed in range(6)]  # blob cores
        target = fraction * float(inside.sum())
        assert 0.5 * target < sum(sizes) / len(sizes) < 1.8 * target


def test_plates_are_thin_and_log_intensities_reach_faint_values():
    x = torch.full((1, 32, 32, 32), 0.5)
    plate = ConfettiNoise(
        3, blob_volume=(0.01, 0.01), max_blobs=1, shapes=("plate",), sigma=0.3, value_range=(0, 1), rotation=0.0
    )
    for seed in range(4):
        _, mask = plate(x, _g(seed))
        coords = mask[0].nonzero().float()
        spread = torch.linalg.eigvalsh(torch.cov(coords.T))
        assert spread[0] < 0.25 * spread[-1]
    log = ConfettiNoise(3, intensity=(0.01, 1.0), intensity_scale="log", value_range=(0, 1))
    magnitudes = log._magnitudes((2000, 1), _g(0))
    assert float(magnitudes.min()) >= 0.01 and float(magnitudes.max()) <= 1.0
    assert 0.4 < float((magnitudes < 0.1).double().mean()) < 0.6  # half of the log range lies below 0.1


def test_foreground_placement_without_foreground_falls_back_to_anywhere():
    y, mask = ConfettiNoise(3, placement="foreground", blob_volume=(0.01, 0.05))(torch.zeros(1, 16, 16, 16), _g(0))
    assert mask.sum() > 0 and y.shape == (1, 16, 16, 16)


def test_new_option_errors():
    with pytest.raises(ConfigError, match="placement"):
        ConfettiNoise(3, placement="inside")
    with pytest.raises(ConfigError, match="intensity_scale"):
        ConfettiNoise(3, intensity_scale="exp")
    with pytest.raises(ConfigError, match="intensity"):
        ConfettiNoise(3, intensity=(0.0, 0.5), intensity_scale="log")
    with pytest.raises(ConfigError, match="blob_volume"):
        ConfettiNoise(3, blob_volume=(0.2, 0.1))
    with pytest.raises(ConfigError, match="shapes"):
        ConfettiNoise(3, shapes=("star",))


def test_detector_confetti_defaults_per_modality():
    from seedlens.detectors.exposure import ExposureConfig, make_confetti
    from seedlens.types import Modality

    volume = make_confetti(ExposureConfig(), Modality.VOLUME)
    assert volume.placement == "foreground" and volume.blob_volume is not None and "plate" in volume.shapes
    image = make_confetti(ExposureConfig(), Modality.IMAGE)
    assert image.placement == "anywhere" and image.blob_volume is None and image.intensity == (0.2, 1.0)
    custom = make_confetti(ExposureConfig(confetti_placement="anywhere", confetti_max_blobs=2), Modality.VOLUME)
    assert custom.placement == "anywhere" and custom.max_blobs == 2
