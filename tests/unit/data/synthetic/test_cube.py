import numpy as np
import pytest

from seedlens.data.synthetic import CUBE_DEFECT_TYPES, DEFECT_FRACTION_RANGE, SeedCube, make_seed_cube
from seedlens.errors import ConfigError, UnknownNameError


def _band(cube, nm):
    return int(np.argmin(np.abs(cube.wavelengths - nm)))


@pytest.mark.parametrize("defect", [None, *CUBE_DEFECT_TYPES])
def test_cube_shapes_and_range(defect):
    c = make_seed_cube(32, 48, defect, rng=1)
    assert isinstance(c, SeedCube)
    assert c.cube.shape == (48, 32, 32) and c.cube.dtype == np.float32
    assert c.defect_mask.shape == c.seed_mask.shape == (1, 32, 32)
    assert c.cube.min() >= 0.0 and c.cube.max() <= 1.0
    assert c.wavelengths.shape == (48,)
    assert c.wavelengths[0] == pytest.approx(400) and c.wavelengths[-1] == pytest.approx(1000)
    assert not (c.defect_mask & ~c.seed_mask).any()


@pytest.mark.parametrize("defect", CUBE_DEFECT_TYPES)
def test_cube_defect_fraction(defect):
    lo, hi = DEFECT_FRACTION_RANGE
    for seed in range(10):
        c = make_seed_cube(32, 16, defect, rng=seed)
        assert lo <= c.defect_mask.sum() / c.seed_mask.sum() <= hi


def test_normal_cube_spectra_are_plausible():
    c = make_seed_cube(48, 64, None, rng=2)
    assert not c.defect_mask.any()
    seed = c.cube[:, c.seed_mask[0]].mean(axis=1)
    tray = c.cube[:, ~c.seed_mask[0]].mean(axis=1)
    assert tray.max() < 0.1 and tray.max() - tray.min() < 0.03  # dark, flat background
    assert seed[_band(c, 550)] < 0.1  # dark coat in the visible
    assert seed[_band(c, 850)] > 2.5 * seed[_band(c, 650)]  # red edge
    assert seed[_band(c, 970)] < seed[_band(c, 920)]  # water band


def test_spectral_and_spatial_defects_change_the_spectrum():
    normal = make_seed_cube(48, 64, None, rng=3)
    for defect in CUBE_DEFECT_TYPES:
        c = make_seed_cube(48, 64, defect, rng=3)  # same scene and noise, only the defect differs
        m = c.defect_mask[0]
        inside, before = c.cube[:, m].mean(axis=1), normal.cube[:, m].mean(axis=1)
        if defect == "crack":
            assert inside.mean() < 0.7 * before.mean()  # darker, all bands
        elif defect == "mould":
            assert inside[_band(c, 550)] > 1.5 * before[_band(c, 550)]  # bright in the visible
        else:  # immature: chlorophyll absorption at 670 nm below the green peak
            assert inside[_band(c, 670)] < inside[_band(c, 550)]
            assert before[_band(c, 670)] > before[_band(c, 550)] * 0.95
        unchanged = ~m & (np.abs(c.cube - normal.cube).max(axis=0) > 1e-6)
        assert not unchanged.any()


def test_cube_determinism_and_errors():
    np.testing.assert_array_equal(make_seed_cube(24, 8, "mould", 7).cube, make_seed_cube(24, 8, "mould", 7).cube)
    assert not np.array_equal(make_seed_cube(24, 8, None, 7).cube, make_seed_cube(24, 8, None, 8).cube)
    with pytest.raises(UnknownNameError, match="immature"):
        make_seed_cube(defect="void")
    with pytest.raises(ConfigError, match="bands"):
        make_seed_cube(bands=2)
