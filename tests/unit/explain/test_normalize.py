from __future__ import annotations

import json

import numpy as np
import pytest

from seedlens.errors import ConfigError, NotFittedError, ShapeError
from seedlens.explain import GlobalNormalizer, normalize_local


def test_local_scales_each_map_by_its_own_range() -> None:
    rng = np.random.default_rng(0)
    maps = np.stack([rng.random((1, 16, 16)), 100 + 50 * rng.random((1, 16, 16))])
    out = normalize_local(maps, quantile=0.97)
    assert out.shape == maps.shape and out.dtype == np.float32
    for i in range(2):
        assert out[i].min() == 0.0 and out[i].max() == 1.0
        assert np.mean(out[i] == 1.0) == pytest.approx(0.03, abs=0.01)  # the top 3 % saturate
    # the ordering of pixels within a map is kept
    flat_in, flat_out = maps[1].ravel(), out[1].ravel()
    order = np.argsort(flat_in)
    assert np.all(np.diff(flat_out[order]) >= 0)


def test_local_constant_map_becomes_zero_and_3d_works() -> None:
    assert np.all(normalize_local(np.full((1, 1, 4, 4, 4), 7.0)) == 0)
    vol = normalize_local(np.arange(64, dtype=float).reshape(1, 1, 4, 4, 4), quantile=1.0)
    assert vol.max() == 1.0 and vol.min() == 0.0


def test_global_uses_normal_statistics_so_maps_compare() -> None:
    rng = np.random.default_rng(1)
    normals = rng.random((20, 1, 8, 8))
    norm = GlobalNormalizer().fit(normals, quantile=0.97)
    assert norm.low_ == pytest.approx(normals.min())
    assert norm.high_ == pytest.approx(np.quantile(normals, 0.97))
    test = np.stack([0.2 * np.ones((1, 8, 8)), 5 * np.ones((1, 8, 8))])  # a quiet and a hot map
    out = norm.transform(test)
    assert out[0].max() < 0.3  # a quiet map stays cool (local normalisation would not say so)
    assert np.all(out[1] == 1.0)
    assert np.all((out >= 0) & (out <= 1))


def test_global_round_trips_through_a_dict() -> None:
    norm = GlobalNormalizer().fit(np.random.default_rng(2).random((4, 1, 5, 5)))
    data = json.loads(json.dumps(norm.to_dict()))
    again = GlobalNormalizer.from_dict(data)
    assert again == norm
    x = np.random.default_rng(3).random((2, 1, 5, 5))
    np.testing.assert_array_equal(again.transform(x), norm.transform(x))


def test_errors() -> None:
    with pytest.raises(NotFittedError):
        GlobalNormalizer().transform(np.zeros((1, 1, 2, 2)))
    with pytest.raises(ShapeError, match=r"\(4, 4\)"):
        normalize_local(np.zeros((4, 4)))
    with pytest.raises(ShapeError):
        normalize_local(np.zeros((2, 3, 4, 4)))
    with pytest.raises(ShapeError, match="NaN"):
        GlobalNormalizer().fit(np.full((1, 1, 2, 2), np.nan))
    with pytest.raises(ConfigError):
        normalize_local(np.zeros((1, 1, 2, 2)), quantile=0)
    with pytest.raises(ConfigError):
        GlobalNormalizer.from_dict({"low": 0.0, "high": 1.0})
    with pytest.raises(ConfigError):
        GlobalNormalizer.from_dict({"low": 2.0, "high": 1.0, "quantile": 0.9})
