"""RX and background kNN: the Mahalanobis distance by hand, targets found in synthetic scenes, option errors."""

from __future__ import annotations

import numpy as np
import pytest

from seedlens.detectors import RX, load_detector
from seedlens.detectors._inputs import even_counts
from seedlens.detectors.rx import Background, global_rx, knn_map, local_rx, scene_map
from seedlens.errors import ConfigError, ReadError, ShapeError
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


def test_rx_fitted_on_normal_seed_cubes_finds_and_locates_spectral_defects():
    """The detector ``seedlens train`` picks for cubes, on synthetic seed cubes (mould and immature tissue)."""
    from seedlens.data.synthetic.cube import make_seed_cube

    rng = np.random.default_rng(0)
    normal = np.stack([make_seed_cube(32, 32, None, rng).cube for _ in range(40)])
    test = [make_seed_cube(32, 32, defect, rng) for defect in ("mould", "immature") * 8]
    test += [make_seed_cube(32, 32, None, rng) for _ in range(16)]
    detector = RX(modality="cube").fit(normal, progress=False)
    cubes = np.stack([c.cube for c in test])
    assert image_auroc([c.defect is not None for c in test], detector.score(cubes)) > 0.85  # 0.93 measured
    maps = detector.explain(cubes[:16])
    inside = [c.seed_mask[0] for c in test[:16]]
    truth = np.concatenate([c.defect_mask[0][m] for c, m in zip(test[:16], inside, strict=True)])
    heat = np.concatenate([h[0][m] for h, m in zip(maps, inside, strict=True)])
    assert image_auroc(truth, heat) > 0.9  # defect pixels among the seed's own pixels; 0.95 measured


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


def mixture_scene(seed: int = 0, size: int = 48, bands: int = 10,
                  targets: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Four background materials of very different brightness (quadrants) and five 2x2 targets of a fifth material
    near their mean spectrum: far from every background pixel, yet close to the background's mean."""
    rng = np.random.default_rng(seed)
    materials = rng.uniform(0.1, 0.9, size=(4, bands)) * np.array([1.0, 3.0, 0.3, 6.0])[:, None]
    quadrant = (np.arange(size)[:, None] >= size // 2) * 2 + (np.arange(size)[None, :] >= size // 2)
    cube = materials[quadrant].transpose(2, 0, 1) + rng.normal(0, 0.03, size=(bands, size, size))
    truth = np.zeros((size, size), dtype=bool)
    for r, c in rng.integers(2, size - 4, size=(5, 2)):
        truth[r : r + 2, c : c + 2] = True
    if targets:
        target = materials.mean(axis=0) + rng.normal(0, 0.05, size=bands)
        cube[:, truth] = target[:, None] + rng.normal(0, 0.03, size=(bands, int(truth.sum())))
    return cube.astype(np.float32), truth


def test_knn_map_finds_targets_in_a_mixed_background_better_than_global_rx():
    cube, truth = mixture_scene(1)
    knn = image_auroc(truth.ravel(), scene_map(cube, mode="knn", neighbours=30).ravel())
    rx = image_auroc(truth.ravel(), global_rx(cube).ravel())
    assert knn > 0.99
    assert rx < 0.6  # the classical failure: one Gaussian for a mixture puts the target near its centre


def test_knn_map_never_counts_a_pixel_as_its_own_neighbour():
    cube = np.broadcast_to(np.linspace(0, 1, 6)[:, None, None], (6, 10, 10)).copy()
    cube += np.random.default_rng(0).normal(0, 0.01, size=cube.shape)
    cube[:, 4, 7] += 5.0  # one unique pixel: its own distance would be 0
    heat = knn_map(cube, neighbours=1)
    assert np.unravel_index(heat.argmax(), heat.shape) == (4, 7)
    # a background drawn from the scene (memory_size below its pixel count) still scores every pixel
    sampled = knn_map(cube, neighbours=1, memory_size=30)
    assert np.isfinite(sampled).all() and np.unravel_index(sampled.argmax(), heat.shape) == (4, 7)


def test_knn_map_defaults_smooth_the_map_and_options_are_checked():
    cube, _ = scene(2)
    np.testing.assert_allclose(scene_map(cube, mode="knn"), scene_map(cube, mode="knn", smoothing=0.5))
    assert not np.allclose(scene_map(cube, mode="knn"), scene_map(cube, mode="knn", smoothing=0))
    with pytest.raises(ConfigError, match="neighbours"):
        scene_map(cube, mode="knn", neighbours=0)
    with pytest.raises(ValueError, match="background and its bank"):
        knn_map(cube, Background.fit(cube.reshape(12, -1).T, 4, 1e-3))


def test_knn_detector_on_training_scenes_saves_a_bounded_background(tmp_path):
    clean = mixture_scene(0, targets=False)[0]
    noise = np.random.default_rng(1).normal(0, 0.03, size=(5, *clean.shape)).astype(np.float32)
    normals = clean + noise  # the scene's materials without targets, new noise in each
    cube, truth = mixture_scene(0)
    detector = RX(mode="knn", neighbours=10, memory_size=2000, modality="cube").fit(normals)
    assert detector.bank_.shape == (2000, 4)
    heat = detector.explain(cube[None])[0, 0]
    assert image_auroc(truth.ravel(), heat.ravel()) > 0.99
    assert detector.score(cube[None])[0] > detector.score(clean[None])[0]
    loaded = load_detector(detector.save(tmp_path / "rx"))
    np.testing.assert_allclose(loaded.score(cube[None]), detector.score(cube[None]), rtol=1e-6)
    saved = (tmp_path / "rx" / "bank.npz").read_bytes()
    for damaged in (b"not a numpy file", saved[: len(saved) // 2], b""):  # garbage, cut short, empty
        (tmp_path / "rx" / "bank.npz").write_bytes(damaged)
        with pytest.raises(ReadError, match=r"bank\.npz"):
            load_detector(tmp_path / "rx")
    np.savez(tmp_path / "rx" / "bank.npz", bank=np.zeros((10, 3), np.float32))  # a bank of another width
    with pytest.raises(ReadError, match=r"expected \(M, 4\)"):
        load_detector(tmp_path / "rx")


def test_knn_bank_is_filled_from_the_larger_samples_and_kept_only_when_used(tmp_path):
    rng = np.random.default_rng(0)
    cubes = [rng.random((3, 2, 2), dtype=np.float32) for _ in range(8)] + \
            [rng.random((3, 32, 32), dtype=np.float32) for _ in range(3)]
    detector = RX(mode="knn", memory_size=1000, val_fraction=0.1, seed=1).fit(cubes)
    assert detector.bank_.shape == (1000, 3)  # 3 bands: 3 components; 32 px from the 2x2 cubes, the rest from the large
    transductive = RX(mode="knn", fit_on="sample", modality="cube").fit(np.stack(cubes[-3:]))
    assert transductive.bank_ is None
    folder = transductive.save(tmp_path / "own")
    assert not (folder / "bank.npz").exists()
    np.testing.assert_allclose(load_detector(folder).score(cubes[-1][None]), transductive.score(cubes[-1][None]))
    volumes = rng.random((4, 2, 6, 6, 6), dtype=np.float32)
    assert RX(mode="knn", neighbours=5).fit(volumes).explain(volumes[:1]).shape == (1, 1, 6, 6, 6)


def test_even_counts_fill_the_shortfall_of_small_pools():
    np.testing.assert_array_equal(even_counts([4, 4, 100, 100], 100), [4, 4, 46, 46])
    np.testing.assert_array_equal(even_counts([3, 5], 100), [3, 5])
    assert even_counts([7] * 10, 5).sum() == 5 and even_counts([7] * 10, 5).max() == 1


def test_tiny_and_malformed_scenes():
    assert knn_map(np.ones((5, 1, 1), np.float32)).tolist() == [[0.0]]  # one pixel: no background, like RX
    assert knn_map(np.random.default_rng(0).random((5, 1, 2))).shape == (1, 2)
    with pytest.raises(ShapeError, match=r"\(12, 12\)"):
        scene_map(np.zeros((12, 12)), mode="knn")
    with pytest.raises(ConfigError, match="fit_on='train'"):
        scene_map(np.zeros((3, 4, 4)), mode="knn", fit_on="train")
    with pytest.raises(ConfigError, match="memory_size=1"):
        knn_map(np.zeros((3, 4, 4)), memory_size=1)


ENSEMBLE = {"components": (3, 4, 6), "neighbours": (5, 20), "smoothing": (0.0, 0.5)}


def test_knn_ensemble_averages_every_setting_on_one_robust_scale():
    from scipy import ndimage

    cube, truth = mixture_scene(1)
    ensemble = scene_map(cube, mode="knn", **ENSEMBLE)
    expected = []
    for p in ENSEMBLE["components"]:
        for k in ENSEMBLE["neighbours"]:
            raw = knn_map(cube, components=p, neighbours=k)  # one search per (p, k), as each setting alone
            for sigma in ENSEMBLE["smoothing"]:
                heat = ndimage.gaussian_filter(raw, sigma, mode="reflect") if sigma else raw
                median = np.median(heat)
                expected.append((heat - median) / np.median(np.abs(heat - median)))
    np.testing.assert_allclose(ensemble, np.mean(expected, axis=0), rtol=1e-6, atol=1e-9)
    assert image_auroc(truth.ravel(), ensemble.ravel()) > 0.99
    # a list of one value is that setting alone, unscaled
    np.testing.assert_allclose(scene_map(cube, mode="knn", components=[4], neighbours=[30], smoothing=[0.5]),
                               scene_map(cube, mode="knn", neighbours=30))


def test_knn_maps_match_a_brute_force_search_for_every_setting():
    from seedlens.detectors.rx import knn_maps

    cube = np.random.default_rng(4).random((7, 6, 5))
    pixels = cube.reshape(7, -1).T
    maps = knn_maps(cube, components=(2, 5), neighbours=(1, 4, 9))
    assert sorted(maps) == [(2, 1), (2, 4), (2, 9), (5, 1), (5, 4), (5, 9)]
    for (p, k), heat in maps.items():
        z = Background.fit(pixels, p, 1e-3).whiten(pixels)  # a background of exactly p components
        distances = np.linalg.norm(z[:, None] - z[None], axis=2) + np.diag(np.full(len(z), np.inf))
        np.testing.assert_allclose(heat.ravel(), np.sort(distances, axis=1)[:, :k].mean(axis=1), rtol=1e-9)


def test_knn_ensemble_options_are_checked():
    cube, _ = scene(2)
    with pytest.raises(ConfigError, match=r"need mode='knn'; got mode='global'"):
        scene_map(cube, components=(3, 4))
    with pytest.raises(ConfigError, match=r"neighbours=\(5, 5\) is invalid; expected .*distinct"):
        scene_map(cube, mode="knn", neighbours=(5, 5))
    with pytest.raises(ConfigError, match=r"components=\(\) is invalid"):
        scene_map(cube, mode="knn", components=())
    with pytest.raises(ConfigError, match=r"smoothing=\(0.5, -1.0\) is invalid"):
        scene_map(cube, mode="knn", smoothing=(0.5, -1.0))
    for odd in (float("nan"), float("inf")):
        with pytest.raises(ConfigError, match="each a finite number"):
            scene_map(cube, mode="knn", smoothing=(odd, 0.5))
        with pytest.raises(ConfigError, match=r"smoothing=.* is invalid"):
            scene_map(cube, mode="knn", smoothing=odd)
    with pytest.raises(ConfigError, match="neighbours"):
        RX(mode="knn", neighbours=(3, 0)).fit(cube[None].repeat(3, axis=0))
    with pytest.raises(ConfigError, match=r"components=\(\[3, 4\],\) is invalid"):  # a nested list, from YAML
        RX(mode="knn", components=[[3, 4]]).fit(cube[None].repeat(3, axis=0))


def test_knn_ensemble_fitted_on_training_scenes_keeps_its_scales(tmp_path):
    import json

    clean = mixture_scene(0, targets=False)[0]
    noise = np.random.default_rng(1).normal(0, 0.03, size=(5, *clean.shape)).astype(np.float32)
    cube, truth = mixture_scene(0)
    detector = RX(mode="knn", memory_size=2000, modality="cube", **ENSEMBLE).fit(clean + noise)
    assert detector.bank_.shape == (2000, 6)  # the most components asked for; fewer use its first columns
    assert len(detector.scales_) == 12
    heat = detector.explain(cube[None])[0, 0]
    assert image_auroc(truth.ravel(), heat.ravel()) > 0.99
    assert detector.score(cube[None])[0] > detector.threshold_ > detector.score(clean[None])[0]
    # normal validation maps sit near 0 on the common scale: median 0 and MAD 1 per member
    assert abs(float(np.median(detector.explain(clean[None] + noise[:1])))) < 0.5
    folder = detector.save(tmp_path / "rx")
    np.testing.assert_allclose(load_detector(folder).score(cube[None]), detector.score(cube[None]), rtol=1e-6)
    state = json.loads((folder / "state.json").read_text())
    saved = state["ensemble_scales"]
    damages = (saved[:-1], None, [["x", *row[1:]] for row in saved], [row[:4] for row in saved],
               [[*row[:4], 0.0] for row in saved], [[*row[:3], float("nan"), row[4]] for row in saved])
    for damaged in damages:  # a scale lost, none, a member garbled, a column missing, a zero spread, a NaN median
        state["ensemble_scales"] = damaged
        (folder / "state.json").write_text(json.dumps(state))
        with pytest.raises(ReadError, match=r"state\.json.*ensemble_scales must hold one row"):
            load_detector(folder)


def test_knn_ensemble_counts_settings_that_capping_makes_equal_once():
    rng = np.random.default_rng(5)
    cube = rng.random((3, 12, 12))
    cube[:, 5:7, 5:7] += 2.0
    # 3 bands hold at most 3 components; a 144-pixel scene at most 143 neighbours
    np.testing.assert_allclose(scene_map(cube, mode="knn", components=(3, 4, 5), neighbours=(5, 200, 400)),
                               scene_map(cube, mode="knn", components=(3,), neighbours=(5, 143)))


def test_knn_ensemble_scales_a_flat_background_without_blowing_up():
    cube = np.zeros((3, 40, 40))
    truth = np.zeros((40, 40), dtype=bool)
    truth[5:8, 5:8] = truth[30:33, 20:23] = True
    cube[:, truth] = np.array([1.0, 0.5, 0.2])[:, None]  # most distances are exactly 0: a MAD of 0
    heat = scene_map(cube, mode="knn", components=(2, 3), neighbours=(5, 50), smoothing=(0.0,))
    assert np.isfinite(heat).all() and np.abs(heat).max() < 40  # at most sqrt(1600 pixels) standard deviations
    assert image_auroc(truth.ravel(), heat.ravel()) > 0.99
    assert np.allclose(scene_map(np.zeros((3, 8, 8)), mode="knn", neighbours=(3, 5)), 0)  # constant: scale 1


def test_knn_map_with_a_given_background_uses_all_its_components_by_default():
    cube, _ = scene(3)
    pixels = cube.reshape(12, -1).T
    background = Background.fit(pixels, 8, 1e-3)
    bank = background.whiten(pixels)
    np.testing.assert_allclose(knn_map(cube, background, bank), knn_map(cube, background, bank, components=8))
    assert not np.allclose(knn_map(cube, background, bank), knn_map(cube, background, bank, components=4))
    from seedlens.detectors.rx import knn_maps

    for bad in ({"components": ()}, {"components": (0,)}, {"neighbours": ()}):
        with pytest.raises(ConfigError, match="components >= 1"):
            knn_maps(cube, **bad)
