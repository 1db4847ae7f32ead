"""Sample-level metrics: AUROC, F1, thresholds, FPR, regression and classification metrics."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seedlens.errors import ConfigError, ShapeError
from seedlens.evaluation import (
    balanced_accuracy,
    f1_at_threshold,
    f1_max,
    false_positive_rate,
    image_auroc,
    macro_f1,
    mae,
    r2,
    threshold_from_normals,
)

# ------------------------------------------------------------------------------------------------ AUROC


def test_image_auroc_perfect_reversed_and_hand_counted():
    y = [0, 0, 1, 1]
    assert image_auroc(y, [0.1, 0.2, 0.8, 0.9]) == 1.0
    assert image_auroc(y, [0.9, 0.8, 0.2, 0.1]) == 0.0
    # pairs (anomalous, normal) ranked right: (0.35>0.1), (0.8>0.1), (0.8>0.4); wrong: (0.35<0.4) -> 3/4
    assert image_auroc(y, [0.1, 0.4, 0.35, 0.8]) == pytest.approx(0.75)
    # a tie counts one half
    assert image_auroc([0, 1], [0.5, 0.5]) == pytest.approx(0.5)


def test_image_auroc_single_class_names_the_counts():
    with pytest.raises(ValueError, match="got 3 normal and 0 anomalous"):
        image_auroc([0, 0, 0], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="got 0 normal and 2 anomalous"):
        image_auroc([1, 1], [0.1, 0.2])


def test_image_auroc_rejects_bad_input():
    with pytest.raises(ShapeError, match=r"\(3,\)"):
        image_auroc([0, 1, 1], [0.1, 0.2])
    with pytest.raises(ConfigError, match="got value 2"):
        image_auroc([0, 2], [0.1, 0.2])
    with pytest.raises(ConfigError, match="finite"):
        image_auroc([0, 1], [0.1, np.nan])


labels_scores = st.integers(2, 40).flatmap(
    lambda n: st.tuples(
        st.lists(st.integers(0, 1), min_size=n, max_size=n).filter(lambda ys: 0 < sum(ys) < len(ys)),
        st.lists(st.integers(-50, 50), min_size=n, max_size=n),
    )
)


@settings(max_examples=60, deadline=None)
@given(labels_scores)
def test_image_auroc_is_invariant_to_monotone_transforms(data):
    y, s = data
    s = np.asarray(s, dtype=np.float64)
    base = image_auroc(y, s)
    assert image_auroc(y, 3.0 * s + 7.0) == pytest.approx(base)
    assert image_auroc(y, s**3) == pytest.approx(base)  # strictly increasing, exact on integers
    assert image_auroc(y, np.arctan(s / 10.0)) == pytest.approx(base)
    assert image_auroc(y, -s) == pytest.approx(1.0 - base)


# ------------------------------------------------------------------------------------------------ F1


def test_f1_at_threshold_hand_computed():
    y = [0, 0, 1, 1]
    s = [0.1, 0.4, 0.35, 0.8]
    # threshold 0.35 -> predictions [0, 1, 1, 1]: tp=2, fp=1, fn=0 -> F1 = 2*2 / (2*2 + 1) = 0.8
    assert f1_at_threshold(y, s, 0.35) == pytest.approx(0.8)
    # threshold 0.5 -> [0, 0, 0, 1]: tp=1, fp=0, fn=1 -> 2/3
    assert f1_at_threshold(y, s, 0.5) == pytest.approx(2 / 3)
    assert f1_at_threshold(y, s, 10.0) == 0.0


def test_f1_max_returns_the_best_threshold():
    y = [0, 0, 1, 1]
    s = [0.1, 0.4, 0.35, 0.8]
    best, threshold = f1_max(y, s)
    assert best == pytest.approx(0.8)
    assert threshold == pytest.approx(0.35)
    assert f1_at_threshold(y, s, threshold) == pytest.approx(best)


def test_f1_needs_an_anomalous_sample():
    with pytest.raises(ConfigError, match="anomalous"):
        f1_max([0, 0], [0.1, 0.2])
    with pytest.raises(ConfigError, match="anomalous"):
        f1_at_threshold([0, 0], [0.1, 0.2], 0.1)


@settings(max_examples=60, deadline=None)
@given(labels_scores, st.integers(-60, 60))
def test_f1_max_bounds_f1_at_any_threshold_and_is_reached(data, threshold):
    y, s = data
    best, best_threshold = f1_max(y, s)
    assert f1_at_threshold(y, s, threshold) <= best + 1e-12
    assert f1_at_threshold(y, s, best_threshold) == pytest.approx(best)


# ------------------------------------------------------------------------------------------------ thresholds


def test_threshold_from_normals_gives_the_wanted_fpr_on_fresh_normals():
    rng = np.random.default_rng(0)
    threshold = threshold_from_normals(rng.normal(size=500), quantile=0.95)
    fresh = rng.normal(size=5000)
    fpr = false_positive_rate(np.zeros(fresh.size, dtype=int), fresh, threshold)
    assert abs(fpr - 0.05) < 0.05
    assert threshold == pytest.approx(1.645, abs=0.2)  # the 95% quantile of N(0, 1)


def test_threshold_from_normals_checks_input():
    assert threshold_from_normals([1.0, 2.0, 3.0], quantile=0.5) == 2.0
    with pytest.raises(ConfigError, match="quantile"):
        threshold_from_normals([1.0], quantile=1.5)
    with pytest.raises(ConfigError, match="at least one"):
        threshold_from_normals([])


def test_false_positive_rate_counts_normals_at_or_above():
    y = [0, 0, 0, 0, 1]
    s = [0.1, 0.5, 0.5, 0.9, 0.95]
    assert false_positive_rate(y, s, 0.5) == pytest.approx(0.75)  # >= counts ties
    assert false_positive_rate(y, s, 0.95) == 0.0
    with pytest.raises(ConfigError, match="normal"):
        false_positive_rate([1, 1], [0.1, 0.2], 0.1)


# ------------------------------------------------------------------------------------------------ regression, classes


def test_mae_and_r2():
    t = np.array([1.0, 2.0, 3.0, 4.0])
    wobble = np.array([0.5, -0.5, 0.5, -0.5])
    assert mae(t, t + wobble) == pytest.approx(0.5)
    assert r2(t, t) == pytest.approx(1.0)
    assert r2(t, np.full(4, t.mean())) == pytest.approx(0.0)
    # 1 - SS_res / SS_tot = 1 - 4 * 0.25 / 5
    assert r2(t, t + wobble) == pytest.approx(0.8)
    # (N, T) is averaged over targets
    assert mae(np.c_[t, t], np.c_[t, t + 1.0]) == pytest.approx(0.5)
    with pytest.raises(ShapeError, match=r"\(4,\) and \(3,\)"):
        mae(t, t[:3])
    with pytest.raises(ConfigError, match="at least 2"):
        r2([1.0], [1.0])


def test_macro_f1_and_balanced_accuracy():
    t = ["a", "a", "a", "b"]
    p = ["a", "a", "a", "a"]
    # class a: P=3/4 R=1 -> F1=6/7; class b: 0 -> macro = 3/7
    assert macro_f1(t, p) == pytest.approx(3 / 7)
    assert balanced_accuracy(t, p) == pytest.approx(0.5)
    assert balanced_accuracy(t, t) == 1.0
    with pytest.raises(ShapeError):
        macro_f1(t, p[:2])
