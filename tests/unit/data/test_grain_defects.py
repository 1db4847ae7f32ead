import numpy as np
import pytest
from scipy import ndimage

from seedlens.data.synthetic.grain_defects import (
    FRACTION_RANGES,
    GRAIN_DEFECT_KINDS,
    WALL,
    insert_grain_defect,
)
from seedlens.errors import ConfigError, ShapeError

AIR = 3.0


def _grain(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A barley-like grain crop: an elongated tilted ellipsoid of noisy tissue on air, as split_volume isolates it."""
    rng = np.random.default_rng(seed)
    d, h, w = np.indices((48, 30, 28), dtype=np.float32)
    u = (d - 24) / 20
    v = (h - 15 + 0.2 * (d - 24)) / 11
    t = (w - 14) / 9
    mask = u**2 + v**2 + t**2 <= 1.0
    values = np.full(mask.shape, AIR, np.float32)
    values[mask] = 200.0 + rng.normal(0, 8, size=int(mask.sum()))
    return values, mask


@pytest.mark.parametrize("kind", GRAIN_DEFECT_KINDS)
def test_fraction_in_range_and_mask_inside_the_grain(kind):
    values, mask = _grain()
    low, high = FRACTION_RANGES[kind]
    for seed in range(4):
        _, defect = insert_grain_defect(values, mask, kind, seed)
        assert defect.dtype == bool and defect.shape == mask.shape
        assert low <= defect.sum() / mask.sum() <= high
        assert not (defect & ~mask).any()


@pytest.mark.parametrize("kind", GRAIN_DEFECT_KINDS)
def test_values_change_only_in_the_defect_mask(kind):
    values, mask = _grain(1)
    new, defect = insert_grain_defect(values, mask, kind, np.random.default_rng(7))
    assert new.dtype == values.dtype and new.shape == values.shape
    np.testing.assert_array_equal(new[~defect], values[~defect])
    assert np.all(new[defect] != values[defect])
    assert np.all(new[defect] < values[defect])  # every kind removes density


def test_same_seed_same_defect_other_seed_other_defect():
    values, mask = _grain()
    for kind in GRAIN_DEFECT_KINDS:
        a = insert_grain_defect(values, mask, kind, 11)
        b = insert_grain_defect(values, mask, kind, np.random.default_rng(11))
        c = insert_grain_defect(values, mask, kind, 12)
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_array_equal(a[1], b[1])
        assert not np.array_equal(a[1], c[1])


def test_void_is_air_inside_a_wall_of_tissue():
    values, mask = _grain()
    depth = ndimage.distance_transform_edt(np.pad(mask, 1))[1:-1, 1:-1, 1:-1]
    for seed in range(4):
        new, defect = insert_grain_defect(values, mask, "void", seed)
        assert depth[defect].min() > WALL
        assert np.all(new[defect] <= AIR + 0.05 * (200.0 - AIR) + 1e-3)
        _, parts = ndimage.label(defect)
        assert parts == 1


def test_crack_reaches_the_surface_and_is_thin():
    values, mask = _grain()
    surface = mask & ~ndimage.binary_erosion(mask)
    for seed in range(4):
        new, defect = insert_grain_defect(values, mask, "crack", seed)
        assert (defect & surface).any()
        assert np.all(new[defect] <= AIR + 0.04 * (200.0 - AIR) + 1e-3)
        # planar: its voxels spread along two principal axes, barely along the third
        eig = np.sort(np.linalg.eigvalsh(np.cov(np.argwhere(defect).T)))
        assert np.sqrt(eig[0]) < 0.35 * np.sqrt(eig[1])


def test_low_density_drops_15_to_30_percent_of_the_contrast():
    values, mask = _grain()
    for seed in range(4):
        new, defect = insert_grain_defect(values, mask, "low_density", seed)
        drop = (values[defect] - new[defect]) / (values[defect] - AIR)
        assert drop.min() >= 0.15 - 1e-4 and drop.max() <= 0.30 + 1e-4
        assert np.ptp(drop) < 1e-4  # one drop for the whole region, the texture kept


def test_integer_values_keep_their_dtype():
    values, mask = _grain()
    new, defect = insert_grain_defect(np.rint(values).astype(np.uint8), mask, "void", 0)
    assert new.dtype == np.uint8
    assert defect.any() and not (defect & ~mask).any()


def test_bad_inputs():
    values, mask = _grain()
    with pytest.raises(ConfigError, match="unknown grain defect"):
        insert_grain_defect(values, mask, "mould", 0)
    with pytest.raises(ShapeError):
        insert_grain_defect(values, mask[:-1], "void", 0)
    with pytest.raises(ShapeError):
        insert_grain_defect(values, np.zeros_like(mask), "void", 0)
    with pytest.raises(RuntimeError, match="no 'void' defect"):  # a grain too thin for a void behind its wall
        thin = np.zeros_like(mask)
        thin[10:40, 10:20, 13:16] = True
        insert_grain_defect(values, thin, "void", 0)
