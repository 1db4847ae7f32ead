"""Localisation metrics: pooled / in-object pixel AUROC and AUPRO (with its PRO curve)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import ndimage
from sklearn.metrics import roc_auc_score

from seedlens.errors import ConfigError, ShapeError
from seedlens.evaluation import aupro, image_auroc, pixel_auroc, pro_curve

# ------------------------------------------------------------------------------------------------ pixel AUROC


def test_pixel_auroc_pools_samples_of_different_shapes():
    masks = [np.array([[0, 1], [0, 0]]), np.array([[1, 0, 0]])[None]]  # (2, 2) and (1, 1, 3)
    maps = [np.array([[0.1, 0.9], [0.2, 0.3]])[None], np.array([[0.8, 0.0, 0.4]])]
    pooled_y = [0, 1, 0, 0, 1, 0, 0]
    pooled_s = [0.1, 0.9, 0.2, 0.3, 0.8, 0.0, 0.4]
    assert pixel_auroc(masks, maps) == pytest.approx(roc_auc_score(pooled_y, pooled_s))


def test_pixel_auroc_in_mask_drops_the_trivially_normal_background():
    rng = np.random.default_rng(1)
    masks, maps, objects = [], [], []
    for _ in range(6):
        obj = np.zeros((32, 32), bool)
        obj[8:24, 8:24] = True  # the seed
        mask = np.zeros((32, 32), bool)
        mask[12:16, 12:16] = True  # a defect inside it
        amap = np.where(obj, rng.normal(size=(32, 32)) + 1.0 * mask, -5.0)  # background: lowest score
        masks.append(mask)
        maps.append(amap)
        objects.append(obj)
    pooled = pixel_auroc(masks, maps)
    inside = pixel_auroc(masks, maps, region=objects)
    expected_inside = roc_auc_score(
        np.concatenate([m[o] for m, o in zip(masks, objects, strict=True)]),
        np.concatenate([a[o] for a, o in zip(maps, objects, strict=True)]),
    )
    assert inside == pytest.approx(expected_inside)
    assert pooled > inside + 0.1  # the 768 background pixels per image inflate the pooled figure
    # None entries: an all-normal mask, and an object mask covering the whole sample
    assert pixel_auroc([*masks, None], [*maps, np.full((32, 32), -9.0)], region=[*objects, None]) > inside


def test_pixel_auroc_equals_image_auroc_on_one_pixel_samples():
    y = np.array([0, 1, 0, 1, 1])
    s = np.array([0.3, 0.5, 0.6, 0.9, 0.2])
    assert pixel_auroc(y.reshape(5, 1, 1, 1), s.reshape(5, 1, 1, 1)) == pytest.approx(image_auroc(y, s))


def test_pixel_auroc_errors_name_the_shapes_and_counts():
    with pytest.raises(ShapeError, match=r"sample 1: mask shape \(4, 4\) and map shape \(1, 4, 5\)"):
        pixel_auroc([np.zeros((4, 4)), np.zeros((4, 4))], [np.zeros((4, 4)), np.zeros((1, 4, 5))])
    with pytest.raises(ShapeError, match="2 masks and 1 maps"):
        pixel_auroc([np.zeros((4, 4))] * 2, [np.zeros((4, 4))])
    with pytest.raises(ConfigError, match="got 16 normal and 0 anomalous"):
        pixel_auroc([np.zeros((4, 4))], [np.zeros((4, 4))])


def test_masks_are_binarised_at_one_half():
    mask255 = np.array([[0, 255], [0, 0]], dtype=np.uint8)
    amap = np.array([[0.1, 0.9], [0.2, 0.3]])
    assert pixel_auroc([mask255], [amap]) == pixel_auroc([mask255 > 0], [amap]) == 1.0


# ------------------------------------------------------------------------------------------------ AUPRO


def test_aupro_hand_computed():
    # One 2x5 image; full connectivity gives two regions: A = {(0,0), (0,1)} and B = {(1,4)}.
    mask = np.array(
        [
            [1, 1, 0, 0, 0],
            [0, 0, 0, 0, 1],
        ]
    )
    amap = np.array(
        [
            [0.9, 0.5, 0.8, 0.1, 0.2],
            [0.3, 0.0, 0.5, 0.6, 0.7],
        ]
    )
    # 7 normal pixels, so the FPR moves in steps of 1/7. Lowering the threshold through the scores:
    #   t=0.9: A gets 1 of 2 pixels -> PRO = (1/2 + 0)/2 = 0.25, FPR = 0
    #   t=0.8: normal pixel                           -> FPR = 1/7
    #   t=0.7: B fully covered -> PRO = (1/2 + 1)/2 = 0.75
    #   t=0.6: normal pixel                           -> FPR = 2/7
    #   t=0.5: A's 2nd pixel *and* a normal one (tie) -> PRO = 1, FPR = 3/7 (one diagonal segment)
    # PRO curve: (0,0) (0,.25) (1/7,.25) (1/7,.75) (2/7,.75) (3/7,1) ... (1,1).
    # At FPR 0.3 on the diagonal: PRO = 0.75 + 0.25 * (0.3 - 2/7) / (1/7) = 0.75 + 0.25 * 0.1 = 0.775.
    # Area up to 0.3 = 0.25/7 + 0.75/7 + (1/70) * (0.75 + 0.775)/2 = 20/140 + 1.525/140 = 0.15375,
    # normalised: 0.15375 / 0.3 = 0.5125.
    fpr, pro = pro_curve([mask], [amap])
    np.testing.assert_allclose(fpr[:6], [0, 0, 1 / 7, 1 / 7, 2 / 7, 3 / 7])
    np.testing.assert_allclose(pro[:6], [0, 0.25, 0.25, 0.75, 0.75, 1.0])
    assert (fpr[-1], pro[-1]) == (1.0, 1.0)
    assert aupro([mask], [amap]) == pytest.approx(0.5125)
    # Up to FPR 1/7 (a curve point): area 0.25/7 / (1/7) = 0.25.
    assert aupro([mask], [amap], max_fpr=1 / 7) == pytest.approx(0.25)


def _brute_force_aupro(masks, maps, max_fpr, structure_full=True):
    """Independent reference: evaluate PRO and FPR at every threshold one by one, then integrate
    segment by segment with clipping (no cumulative sums, no sort-order tricks)."""
    samples = []
    for mask, amap in zip(masks, maps, strict=True):
        mask = np.asarray(mask).squeeze() > 0.5
        amap = np.asarray(amap, dtype=float).squeeze()
        structure = np.ones((3,) * mask.ndim) if structure_full else None
        labelled, n = ndimage.label(mask, structure=structure)
        samples.append((mask, amap, [labelled == k for k in range(1, n + 1)]))
    normal_scores = np.concatenate([a[~m] for m, a, _ in samples])
    thresholds = np.unique(np.concatenate([a.ravel() for _, a, _ in samples]))[::-1]
    points = [(0.0, 0.0)]
    for t in thresholds:
        fpr = np.mean(normal_scores >= t)
        overlaps = [np.mean(a[r] >= t) for _, a, regions in samples for r in regions]
        points.append((fpr, np.mean(overlaps)))
    area = 0.0
    for (x0, y0), (x1, y1) in itertools.pairwise(points):
        if x0 >= max_fpr:
            break
        if x1 > max_fpr:
            y1 = y0 + (y1 - y0) * (max_fpr - x0) / (x1 - x0)
            x1 = max_fpr
        area += (x1 - x0) * (y0 + y1) / 2
    return area / max_fpr


def _random_case(rng, n_samples, shape):
    masks, maps = [], []
    for _ in range(n_samples):
        mask = ndimage.binary_dilation(rng.random(shape) > 0.97, iterations=1)
        amap = np.round(0.8 * mask + rng.normal(0, 0.5, shape), 1)  # rounding makes many ties
        masks.append(mask)
        maps.append(amap)
    return masks, maps


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("max_fpr", [0.3, 0.05, 1.0])
def test_aupro_matches_brute_force(seed, max_fpr):
    rng = np.random.default_rng(seed)
    masks, maps = _random_case(rng, 3, (20, 24))
    assert aupro(masks, maps, max_fpr=max_fpr) == pytest.approx(_brute_force_aupro(masks, maps, max_fpr), abs=1e-9)


def test_aupro_on_a_threshold_grid_approaches_the_exact_value():
    rng = np.random.default_rng(7)
    masks, maps = _random_case(rng, 4, (24, 24))
    maps = [m + rng.normal(0, 0.01, m.shape) for m in maps]  # break ties so the exact curve is fine-grained
    exact = aupro(masks, maps)
    assert aupro(masks, maps, num_thresholds=2000) == pytest.approx(exact, abs=0.01)
    assert abs(aupro(masks, maps, num_thresholds=5) - exact) > 1e-4  # a coarse grid is really coarser
    with pytest.raises(ConfigError, match="num_thresholds"):
        aupro(masks, maps, num_thresholds=1)


small_case = (
    st.integers(2, 6)
    .flatmap(
        lambda w: st.tuples(
            arrays(np.bool_, (3, w)),
            arrays(np.int8, (3, w), elements=st.integers(0, 4)),
        )
    )
    .filter(lambda mm: mm[0].any() and not mm[0].all())
)


@settings(max_examples=80, deadline=None)
@given(small_case, st.sampled_from([0.1, 0.3, 0.5, 1.0]))
def test_aupro_matches_brute_force_on_tiny_tied_maps(case, max_fpr):
    mask, amap = case
    got = aupro([mask], [amap.astype(float)], max_fpr=max_fpr)
    assert got == pytest.approx(_brute_force_aupro([mask], [amap], max_fpr), abs=1e-9)
    assert 0.0 <= got <= 1.0


def test_aupro_perfect_and_worst_maps():
    mask = np.zeros((10, 10), bool)
    mask[2:4, 2:4] = True
    mask[7:9, 5:9] = True
    assert aupro([mask], [mask.astype(float)]) == pytest.approx(1.0)
    assert aupro([mask], [(~mask).astype(float)]) == pytest.approx(0.0)


def test_a_3d_component_spanning_slices_is_one_region():
    # A defect through three slices: 2 voxels in slice 0, 1 in slice 1, 1 in slice 2 (4 voxels, face-connected).
    mask = np.zeros((3, 4, 4), bool)
    mask[0, 1, 1:3] = True
    mask[1, 1, 1] = True
    mask[2, 1, 1] = True
    amap = np.zeros((3, 4, 4))
    amap[0, 1, 1:3] = 1.0  # only slice 0 of the defect is found
    fpr, pro = pro_curve([mask[None]], [amap[None]])  # (1, D, H, W) layout
    # At t=1: one 3-D region with 2 of 4 voxels -> PRO 0.5. Slice by slice it would be mean(1, 0, 0) = 1/3.
    assert (fpr[1], pro[1]) == (0.0, pytest.approx(0.5))
    for connectivity in (1, 3):
        _, pro_c = pro_curve([mask], [amap], connectivity=connectivity)
        assert pro_c[1] == pytest.approx(0.5)


def test_connectivity_decides_whether_diagonal_pixels_join():
    mask = np.array([[1, 0, 0], [0, 1, 1]], bool)
    amap = np.array([[1.0, 0.0, 0.0], [0.0, 0.5, 0.5]])
    # full (8-) connectivity: one region of 3 pixels, 1 found at t=1 -> PRO 1/3
    assert pro_curve([mask], [amap])[1][1] == pytest.approx(1 / 3)
    # face (4-) connectivity: regions {(0,0)} found and {(1,1), (1,2)} not -> PRO (1 + 0) / 2
    assert pro_curve([mask], [amap], connectivity=1)[1][1] == pytest.approx(0.5)


def test_aupro_fpr_counts_normal_pixels_of_all_samples_and_inside_region():
    mask = np.array([[1, 0, 0, 0]])
    amap = np.array([[0.5, 0.9, 0.1, 0.1]])
    normal_sample = np.zeros((1, 4))
    quiet = np.zeros((1, 4))
    # alone: one normal pixel (0.9) beats the defect -> FPR 1/3 before any PRO
    assert aupro([mask], [amap]) == pytest.approx(0.0)
    # adding an all-normal sample halves that FPR step to 1/7: PRO = 1 from FPR 1/7 on
    got = aupro([mask, None], [amap, quiet])
    assert got == pytest.approx((0.3 - 1 / 7) / 0.3)
    # excluding the bright normal pixel from the object leaves a perfect map
    region = np.array([[1, 0, 1, 1]])
    assert aupro([mask, normal_sample], [amap, quiet], region=[region, None]) == pytest.approx(1.0)


def test_aupro_errors():
    with pytest.raises(ConfigError, match="anomalous region"):
        aupro([np.zeros((3, 3))], [np.zeros((3, 3))])
    with pytest.raises(ConfigError, match="normal pixels"):
        aupro([np.ones((3, 3))], [np.zeros((3, 3))])
    with pytest.raises(ConfigError, match="max_fpr"):
        aupro([np.eye(3)], [np.eye(3)], max_fpr=0.0)
    with pytest.raises(ShapeError, match=r"\(3, 3\).*\(3, 4\)"):
        aupro([np.eye(3)], [np.zeros((3, 4))])
