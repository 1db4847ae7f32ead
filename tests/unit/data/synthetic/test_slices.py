import numpy as np
import pytest

from seedlens.data.synthetic import DEFECT_FRACTION_RANGE, DEFECT_TYPES, SeedSlice, make_seed_slice


@pytest.mark.parametrize("defect", [None, *DEFECT_TYPES])
def test_slice_shapes_and_defect_area(defect):
    lo, hi = DEFECT_FRACTION_RANGE
    for seed in range(2):
        sl = make_seed_slice(40, defect, rng=seed)
        assert isinstance(sl, SeedSlice)
        assert sl.image.shape == sl.defect_mask.shape == sl.seed_mask.shape == (1, 40, 40)
        assert sl.image.dtype == np.float32
        if defect is None:
            assert not sl.defect_mask.any()
        else:
            fraction = sl.defect_mask.sum() / sl.seed_mask.sum()
            assert lo <= fraction <= hi
        # the slice cuts the seed near its middle: a large cross-section
        assert sl.seed_mask.sum() > 0.25 * 40 * 40


def test_slice_is_deterministic():
    a = make_seed_slice(32, "crack", rng=4)
    b = make_seed_slice(32, "crack", rng=4)
    np.testing.assert_array_equal(a.image, b.image)
    assert a.params["slice_index"] == b.params["slice_index"]
    assert not np.array_equal(a.image, make_seed_slice(32, "crack", rng=5).image)
