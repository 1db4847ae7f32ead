"""RX: the Mahalanobis distance by hand, targets found in synthetic scenes, option errors."""

from __future__ import annotations

import numpy as np
import pytest

from seedlens.detectors import RX
from seedlens.detectors.rx import Background, global_rx, local_rx
from seedlens.errors import ConfigError
from seedlens.evaluation import image_auroc


def scene(seed: int = 0, size: int = 40, bands: int = 12) -> tuple[np.ndarray, np.ndarray]:
    """Two background materials (left/right halves) with noise, and six 2x2 targets of a third spectrum."""
    rng = np.random.default_rng(seed)
    a, b, target = rng.uniform(0.2, 0.8, size=(3, bands))
    cube = np.where(np.arange(size)[None, None, :] < size // 2, a[:, None, None], b[:, None, None])
    cube = np.broadcast_to(cube, (bands, size, size)).copy()
    cube += rng.normal(0, 0.03, size=cube.shape)
    truth = np.zeros((size, size), dtype=bool)
    for r, c in rng.integers(3, size - 5, size=(6, 2)):
        truth[r : r + 2, c : c + 2] = True
    mix = cube[:, truth] * 0.6 + 0.4 * target[:, None]
    cube[:, truth] = mix
    return cube.astype(np.float32), truth


def test_global_rx_is_the_mahalanobis_distance():
    rng = np.random.default_rng(0)
    pixels = rng.normal(size=(500, 4)) @ rng.normal(size=(4, 4))
    background = Background.fit(pixels, None, 0.0)
    mean, cov = pixels.mean(axis=0), np.cov(pixels.T)
    x = rng.normal(size=(7, 4))
    expected = np.einsum("pi,ij,pj->p", x - mean, np.linalg.inv(cov), x - mean)
    np.testing.assert_allclose(background.score(x), expected, rtol=1e-6)
    array = pixels.T.reshape(4, 20, 25)
    np.testing.assert_allclose(global_rx(array, regularization=0.0).ravel(),
                               Background.fit(pixels, None, 0.0).score(pixels), rtol=1e-6)


def test_global_and_local_rx_find_targets():
    cube, truth = scene()
    assert image_auroc(truth.ravel(), global_rx(cube).ravel()) > 0.97
    assert image_auroc(truth.ravel(), local_rx(cube, inner_window=3, outer_window=9).ravel()) > 0.95
    flat = np.random.default_rng(3).normal(0.5, 0.03, size=(12, 40, 40))
    assert local_rx(flat).mean() == pytest.approx(10, rel=0.25)  # chi-square with 10 components: mean ≈ 10


def test_detector_transductive_scene_and_volume_maps():
    cube, truth = scene(1)
    normals = np.stack([scene(s)[0] for s in range(2, 6)])
    detector = RX(mode="global", fit_on="sample", modality="cube").fit(normals)
    heat = detector.explain(cube[None])
    assert heat.shape == (1, 1, 40, 40)
    assert image_auroc(truth.ravel(), heat[0, 0].ravel()) > 0.9
    volumes = np.random.default_rng(0).normal(size=(5, 2, 8, 8, 8)).astype(np.float32)
    local = RX(mode="local", inner_window=1, outer_window=5).fit(volumes)
    assert local.explain(volumes[:1]).shape == (1, 1, 8, 8, 8)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"inner_window": 4}, "odd"),
        ({"inner_window": 11, "outer_window": 9}, "smaller than outer_window"),
        ({"mode": "annulus"}, "mode='annulus'"),
    ],
)
def test_bad_options_are_named(options, message):
    with pytest.raises(ConfigError, match=message):
        RX(**options).fit(np.zeros((4, 3, 8, 8), np.float32))
