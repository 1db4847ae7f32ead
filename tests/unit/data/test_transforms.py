"""Array transforms and the fitted Preprocessor."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from seedlens.data.transforms import (
    Preprocessor,
    contrast_normalize,
    equalize,
    minmax,
    resize,
    to_channels,
    window,
    zscore,
)
from seedlens.errors import ConfigError, NotFittedError, ShapeError, UnknownNameError

# ------------------------------------------------------------------------------------------------ resize


@pytest.mark.parametrize(
    ("shape", "size"),
    [((3, 20, 30), (10, 15)), ((1, 7, 9), (14, 27)), ((2, 8, 10, 12), (4, 5, 6)), ((1, 4, 4, 4), (8, 8, 8))],
)
def test_resize_shapes_2d_and_3d_numpy_and_torch(shape, size):
    x = np.random.default_rng(0).random(shape).astype(np.float32)
    out = resize(x, size)
    assert isinstance(out, np.ndarray) and out.shape == (shape[0], *size) and out.dtype == np.float32
    out_t = resize(torch.from_numpy(x), size)
    assert isinstance(out_t, torch.Tensor) and tuple(out_t.shape) == (shape[0], *size)


def test_resize_linear_keeps_constants_and_smooth_ramps():
    assert np.allclose(resize(np.full((2, 6, 6, 6), 3.5), (3, 9, 4)), 3.5)
    ramp = np.tile(np.arange(8, dtype=np.float64), (1, 8, 1))  # (1, 8, 8), increasing along W
    up = resize(ramp, (8, 16))
    assert up.dtype == np.float64 and np.all(np.diff(up[0, 0, 1:-1]) > 0)


def test_resize_nearest_keeps_labels_and_dtype():
    mask = np.zeros((1, 8, 8), bool)
    mask[0, 2:6, 2:6] = True
    up = resize(mask, (16, 16), mode="nearest")
    assert up.dtype == bool and up.sum() == 4 * mask.sum()
    labels = np.arange(16, dtype=np.int64).reshape(1, 4, 4)
    small = resize(labels, (2, 2), mode="nearest")
    assert small.dtype == np.int64 and set(np.unique(small)) <= set(range(16))
    vol = np.zeros((1, 4, 4, 4), np.uint8)
    vol[0, 1:3, 1:3, 1:3] = 255
    assert set(np.unique(resize(vol, (8, 8, 8), mode="nearest"))) == {0, 255}


def test_resize_linear_turns_integers_into_float32():
    out = resize(np.full((1, 4, 4), 200, np.uint8), (8, 8))
    assert out.dtype == np.float32 and np.allclose(out, 200)


def test_resize_errors():
    with pytest.raises(ShapeError, match=r"got shape \(4, 4\) and size \(2, 2\)"):
        resize(np.zeros((4, 4)), (2, 2))
    with pytest.raises(ShapeError, match=r"\(1, 4, 4\) and size \(2, 2, 2\)"):
        resize(np.zeros((1, 4, 4)), (2, 2, 2))
    with pytest.raises(UnknownNameError, match="linear, nearest"):
        resize(np.zeros((1, 4, 4)), (2, 2), mode="cubic")
    with pytest.raises(ConfigError, match="positive"):
        resize(np.zeros((1, 4, 4)), (0, 2))


# ------------------------------------------------------------------------------------------------ channels, intensity


def test_to_channels():
    grey = np.random.default_rng(0).random((1, 5, 6))
    rgb = to_channels(grey, 3)
    assert rgb.shape == (3, 5, 6) and np.array_equal(rgb[2], grey[0])
    assert np.allclose(to_channels(rgb, 1), grey)
    assert tuple(to_channels(torch.from_numpy(grey), 3).shape) == (3, 5, 6)
    assert to_channels(rgb, 3) is rgb
    with pytest.raises(ShapeError, match="cannot turn 4 channels into 3"):
        to_channels(np.zeros((4, 5, 6)), 3)


def test_contrast_normalize_gives_zero_mean_unit_mean_abs():
    x = np.random.default_rng(1).normal(50, 7, (3, 16, 16)).astype(np.float32)
    out = contrast_normalize(x)
    assert abs(float(out.mean())) < 1e-4 and float(np.abs(out).mean()) == pytest.approx(1.0, rel=1e-4)
    assert np.allclose(contrast_normalize(x * 4 + 9), out, atol=1e-4)  # invariant to affine intensity changes
    assert np.all(contrast_normalize(np.full((1, 4, 4), 3.0)) == 0)
    assert torch.allclose(contrast_normalize(torch.from_numpy(x)), torch.from_numpy(out), atol=1e-5)


def test_minmax_window_zscore():
    x = np.array([[[-1400.0, -600.0, 150.0, 3000.0]]])
    assert np.allclose(minmax(x, -1400.0, 3000.0), [0, 800 / 4400, 1550 / 4400, 1])
    # lung window (level -600, width 1500) maps [-1350, 150] to [0, 1], clipped outside
    assert np.allclose(window(x, -600, 1500), [0, 0.5, 1, 1])
    with pytest.raises(ConfigError):
        minmax(x, 1.0, 1.0)
    with pytest.raises(ConfigError):
        window(x, 0, 0)
    cube = np.stack([np.full((2, 2), 10.0), np.full((2, 2), -4.0)])
    assert np.allclose(zscore(cube, [10.0, -2.0], [1.0, 2.0]), np.stack([np.zeros((2, 2)), np.full((2, 2), -1.0)]))
    with pytest.raises(ShapeError, match="1 or 2 values"):
        zscore(cube, [1.0, 2.0, 3.0], 1.0)


# ------------------------------------------------------------------------------------------------ Preprocessor


def _training_set(shape=(1, 12, 10), n=5, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.normal(100 + 10 * i, 5 + i, shape).astype(np.float32) for i in range(n)]


@pytest.mark.parametrize(
    "config",
    [
        {"intensity": "contrast", "size": (8, 8), "channels": 3},
        {"intensity": "minmax"},
        {"intensity": "zscore", "size": (6, 6)},
        {"intensity": "window", "window": (100.0, 60.0)},
        {"intensity": "none", "channels": 3},
    ],
)
def test_preprocessor_round_trip_reproduces_output_exactly(config):
    train = _training_set()
    pre = Preprocessor(**config).fit(train)
    restored = Preprocessor.from_dict(json.loads(json.dumps(pre.to_dict())))
    assert restored == pre
    fresh = _training_set(seed=9)[0]
    out = pre(fresh)
    assert out.dtype == np.float32 and out.shape == pre.output_shape(fresh.shape)
    assert np.array_equal(restored(fresh), out)


def test_preprocessor_contrast_lands_training_data_in_unit_range():
    train = _training_set(shape=(1, 16, 16))
    pre = Preprocessor(intensity="contrast").fit(train)
    outs = np.stack([pre(x) for x in train])
    assert outs.min() == pytest.approx(0.0, abs=1e-6) and outs.max() == pytest.approx(1.0, abs=1e-6)


def test_preprocessor_zscore_statistics_match_numpy_per_channel():
    rng = np.random.default_rng(2)
    train = [np.stack([rng.normal(-1000, 30, (7, 9)), rng.normal(5, 2, (7, 9))]) for _ in range(4)]
    pre = Preprocessor(intensity="zscore").fit(train)
    stacked = np.concatenate([x.reshape(2, -1) for x in train], axis=1)
    assert np.allclose(pre.mean_, stacked.mean(axis=1)) and np.allclose(pre.std_, stacked.std(axis=1))
    out = np.concatenate([pre(x).reshape(2, -1) for x in train], axis=1)
    assert np.allclose(out.mean(axis=1), 0, atol=1e-4) and np.allclose(out.std(axis=1), 1, atol=1e-4)
    with pytest.raises(ShapeError, match="fitted on 2 channels"):
        pre(np.zeros((3, 7, 9)))


def test_preprocessor_config_errors_and_not_fitted():
    with pytest.raises(UnknownNameError, match="contrast, minmax, zscore, foreground, window, equalize, none"):
        Preprocessor(intensity="clahe")
    with pytest.raises(ConfigError, match="window=\\(level, width\\)"):
        Preprocessor(intensity="window")
    with pytest.raises(ConfigError, match="size"):
        Preprocessor(size=(8,))
    with pytest.raises(NotFittedError, match="fit"):
        Preprocessor(intensity="zscore")(np.zeros((1, 4, 4)))
    with pytest.raises(ConfigError, match="at least one"):
        Preprocessor(intensity="minmax").fit([])
    with pytest.raises(ConfigError, match="constant"):
        Preprocessor(intensity="minmax").fit([np.ones((1, 4, 4))])
    with pytest.raises(ConfigError, match="unknown Preprocessor field"):
        Preprocessor.from_dict({"intensity": "none", "sizes": [4, 4]})
    assert Preprocessor(intensity="window", window=(0, 2)).is_fitted  # nothing to fit


def test_preprocessor_accepts_torch_and_3d():
    vol = torch.randn(1, 6, 8, 8)
    pre = Preprocessor(size=(4, 4, 4), intensity="zscore").fit([vol, vol * 2])
    out = pre(vol)
    assert isinstance(out, np.ndarray) and out.shape == (1, 4, 4, 4)


@settings(max_examples=30, deadline=None)
@given(st.floats(0.1, 100.0), st.floats(-1000.0, 1000.0))
def test_contrast_preprocessing_ignores_gain_and_offset(gain, offset):
    train = _training_set(shape=(1, 8, 8), n=3)
    pre = Preprocessor(intensity="contrast").fit(train)
    x = train[0]
    assert np.allclose(pre(x * gain + offset), pre(x), atol=1e-3)


def test_equalize_keeps_the_order_of_values_and_spreads_them_over_0_1():
    rng = np.random.default_rng(0)
    x = (rng.normal(100, 5, size=(1, 20, 30)) ** 2).astype(np.float32)  # a skewed histogram
    out = equalize(x)
    assert out.shape == x.shape and out.dtype == np.float32
    assert out.min() == 0.0 and out.max() == 1.0
    order = np.argsort(x.ravel(), kind="stable")
    assert np.all(np.diff(out.ravel()[order]) >= 0)  # monotone
    assert abs(float(np.median(out)) - 0.5) < 0.02  # equalised: ranks, whatever the histogram
    np.testing.assert_allclose(equalize(3.0 * x + 7.0), out)  # brightness and contrast do not matter


def test_equalize_of_a_constant_sample_is_zero_and_works_on_tensors():
    assert not np.any(equalize(np.full((1, 4, 4), 9.0)))
    x = torch.rand(3, 8, 8)
    out = equalize(x)
    assert isinstance(out, torch.Tensor)
    np.testing.assert_allclose(out.numpy(), equalize(x.numpy()))


def test_preprocessor_equalize_needs_no_fit():
    pre = Preprocessor(size=(16, 16), intensity="equalize")
    out = pre(np.arange(64, dtype=np.float32).reshape(1, 8, 8) ** 3)
    assert out.shape == (1, 16, 16) and out.min() == 0.0 and out.max() == 1.0
