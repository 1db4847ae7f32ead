"""FCDD quality floors and behaviour on the library's own synthetic data."""

from __future__ import annotations

import numpy as np
import pytest

from seedlens.data.synthetic import make_seed_slice
from seedlens.detectors import FCDD
from seedlens.errors import ConfigError
from seedlens.evaluation import image_auroc, pixel_auroc


def _slices(n: int, start: int) -> np.ndarray:
    return np.stack([make_seed_slice(32, rng=start + i).image for i in range(n)]).astype(np.float32)


def _with_bright_patches(x: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Unseen local anomalies: a bright square of 4–7 px somewhere inside the seed."""
    out, masks = x.copy(), np.zeros_like(x, dtype=bool)
    for i in range(len(x)):
        side = int(rng.integers(4, 8))
        r, c = rng.integers(8, 24 - side, size=2)
        out[i, :, r : r + side, c : c + side] += 0.6
        masks[i, :, r : r + side, c : c + side] = True
    return out, masks


@pytest.fixture(scope="module")
def trained_on_slices():
    detector = FCDD(backbone="fcdd32", image_size=32, epochs=12, batch_size=16, device="cpu", seed=0)
    return detector.fit(_slices(128, 0), progress=False)


def test_confetti_trained_fcdd_finds_unseen_local_anomalies(trained_on_slices):
    rng = np.random.default_rng(7)
    normal = _slices(40, 10_000)
    anomalous, masks = _with_bright_patches(_slices(40, 20_000), rng)
    scores, maps = trained_on_slices.score_and_explain(np.concatenate([normal, anomalous]))
    labels = np.r_[np.zeros(40), np.ones(40)]
    assert image_auroc(labels, scores) >= 0.9
    # heatmaps must point at the patch: pixel AUROC over the anomalous samples
    assert pixel_auroc(list(masks), list(maps[40:])) >= 0.85


def test_threshold_false_positive_rate_on_fresh_normals_is_near_nominal():
    # 5% nominal: the threshold is the 0.95 quantile of 100 held-out normal validation scores
    detector = FCDD(backbone="fcdd32", image_size=32, epochs=2, val_fraction=0.5, device="cpu", seed=1)
    detector.fit(_slices(200, 50_000), progress=False)
    fresh = detector.score(_slices(400, 60_000))
    fpr = float(np.mean(fresh > detector.threshold_))
    assert abs(fpr - 0.05) <= 0.05


def test_fixed_threshold_overrides_the_quantile():
    detector = FCDD(backbone="fcdd28", image_size=28, epochs=1, threshold=0.123, device="cpu")
    detector.fit(_slices(16, 0), progress=False)
    assert detector.threshold_ == 0.123


def _write_manifest(root, normal, anomalous, masks):
    from seedlens.io import write_png

    rows = ["path,label,split,mask"]
    for i, image in enumerate(normal):
        write_png(root / f"n{i}.png", np.clip(image[0], 0, 1))
        rows.append(f"n{i}.png,normal,{'val' if i % 4 == 0 else 'train'},")
    for i, (image, mask) in enumerate(zip(anomalous, masks, strict=True)):
        write_png(root / f"a{i}.png", np.clip(image[0], 0, 1))
        write_png(root / f"a{i}_mask.png", mask[0].astype(np.uint8) * 255)
        rows.append(f"a{i}.png,patch,train,a{i}_mask.png")
    (root / "data.csv").write_text("\n".join(rows) + "\n")
    return root / "data.csv"


def test_semi_supervised_fcdd_learns_from_labelled_anomaly_maps(tmp_path):
    from seedlens.data import open_source

    rng = np.random.default_rng(3)
    anomalous, masks = _with_bright_patches(_slices(24, 30_000), rng)
    source = open_source(_write_manifest(tmp_path, _slices(64, 40_000), anomalous, masks))
    detector = FCDD(
        anomalies="none",
        use_labelled_anomalies=True,
        supervision="map",
        backbone="fcdd32",
        image_size=32,
        epochs=10,
        device="cpu",
        seed=0,
    ).fit(source, progress=False)
    test_anomalous, _ = _with_bright_patches(_slices(20, 31_000), rng)
    scores = detector.score(np.concatenate([_slices(20, 41_000), test_anomalous]))
    assert image_auroc(np.r_[np.zeros(20), np.ones(20)], scores) >= 0.9


def test_only_normals_without_synthetic_anomalies_is_refused():
    detector = FCDD(anomalies="none", epochs=1, device="cpu")
    with pytest.raises(ConfigError, match="labelled anomalies"):
        detector.fit(_slices(8, 0), progress=False)


def test_outlier_exposure_from_a_folder(tmp_path):
    from seedlens.io import write_png

    rng = np.random.default_rng(0)
    for i in range(6):  # unrelated images: random stripes
        stripes = np.tile((np.arange(40) // rng.integers(2, 6) % 2).astype(np.float64), (40, 1))
        write_png(tmp_path / f"outlier{i}.png", stripes)
    detector = FCDD(
        outliers=str(tmp_path), backbone="fcdd32", image_size=32, epochs=2, device="cpu"
    )
    detector.fit(_slices(24, 0), progress=False)
    assert detector.score(_slices(4, 100)).shape == (4,)


def test_outlier_dir_still_works_with_a_deprecation_warning(tmp_path):
    from seedlens.io import write_png

    write_png(tmp_path / "outlier.png", np.eye(20))
    detector = FCDD(outlier_dir=str(tmp_path), backbone="fcdd32", image_size=32, epochs=1, device="cpu")
    with pytest.warns(DeprecationWarning, match="outliers=FOLDER"):
        detector.fit(_slices(8, 0), progress=False)


def test_outliers_without_a_folder_is_a_config_error():
    with pytest.raises(ConfigError, match="outliers=FILES_OR_FOLDERS"):
        FCDD(anomalies="outliers", epochs=1, device="cpu").fit(_slices(8, 0), progress=False)


@pytest.mark.parametrize(("shape", "expected"), [((1, 28, 28), "contrast"), ((1, 16, 16, 16), "foreground")])
def test_auto_intensity_is_contrast_for_images_and_the_foreground_rule_for_volumes(shape, expected):
    # CT volumes are calibrated: one rule fitted on the training foreground keeps absolute density
    rng = np.random.default_rng(0)
    samples = rng.random((8, *shape)).astype(np.float32)
    backbone = "fcdd3d" if len(shape) == 4 else "fcdd28"
    detector = FCDD(backbone=backbone, image_size=shape[-1], epochs=1, batch_size=4, device="cpu")
    detector.fit(samples, progress=False)
    assert detector.preprocessor_.intensity == expected


def test_heatmap_sigma_widens_heatmaps_but_leaves_training_and_scores_alone():
    x = _slices(16, 0)
    options = {"backbone": "fcdd28", "image_size": 28, "epochs": 1, "batch_size": 8, "device": "cpu", "seed": 3}
    plain = FCDD(**options).fit(x, progress=False)
    wide = FCDD(heatmap_sigma=4.0, **options).fit(x, progress=False)
    scores_plain, maps_plain = plain.score_and_explain(x[:4])
    scores_wide, maps_wide = wide.score_and_explain(x[:4])
    np.testing.assert_allclose(scores_plain, scores_wide, rtol=1e-5)
    assert not np.allclose(maps_plain, maps_wide)
    # the wider kernel smooths: smaller spread of the heatmap within each sample
    assert float(np.std(maps_wide, axis=(1, 2, 3)).mean()) < float(np.std(maps_plain, axis=(1, 2, 3)).mean())


def test_test_time_flips_average_scores_and_maps_over_every_flip(trained_on_slices, tmp_path):
    x = _slices(4, 30_000)
    trained_on_slices.save(tmp_path / "run")
    from seedlens.detectors import load_detector

    flipped = load_detector(tmp_path / "run", device="cpu")
    flipped.config_.test_time_flips = True
    views = [(), (2,), (3,), (2, 3)]
    expected_scores = np.mean([trained_on_slices.score(np.flip(x, v) if v else x) for v in views], axis=0)
    expected_maps = np.mean(
        [np.flip(m, v) if v else m for v in views
         for m in [np.asarray(trained_on_slices.explain(np.flip(x, v).copy() if v else x))]], axis=0)
    scores, maps = flipped.score_and_explain(x)
    np.testing.assert_allclose(scores, expected_scores, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(np.asarray(maps), expected_maps, rtol=1e-4, atol=1e-5)
    assert not np.allclose(scores, trained_on_slices.score(x))


def test_training_budget_repeats_only_small_training_sets_and_keeps_given_epochs():
    from seedlens.detectors.config import AUTO_EPOCHS, AUTO_MIN_STEPS, training_budget

    assert training_budget(12, 40, 32) == (12, 1)  # a given number of epochs is used as it is
    assert training_budget(None, 5000, 32) == (AUTO_EPOCHS, 1)
    for samples, batch in ((40, 32), (12, 8), (1, 4), (543, 32), (200, 16)):
        epochs, repeats = training_budget(None, samples, batch)
        steps = (samples * repeats) // batch * epochs  # the loader drops a ragged last batch
        assert epochs == AUTO_EPOCHS and AUTO_MIN_STEPS <= steps <= 2 * AUTO_MIN_STEPS + epochs, (samples, batch)


def test_default_budget_trains_a_handful_of_samples_long_enough(tmp_path):
    """30 passes over 10 slices in batches of 8 are 30 steps; the default repeats them to 510 and finds patches."""
    rng = np.random.default_rng(7)
    anomalous, _ = _with_bright_patches(_slices(40, 20_000), rng)
    x, labels = np.concatenate([_slices(40, 10_000), anomalous]), np.r_[np.zeros(40), np.ones(40)]
    # conv2d (about 30x cheaper than fcdd32) keeps the two fits within a few seconds
    options = {"backbone": "conv2d", "image_size": 32, "batch_size": 8, "device": "cpu", "seed": 0}
    default = FCDD(**options).fit(_slices(12, 0), progress=False)
    assert default.budget_ == {"epochs": 30, "samples_per_epoch": 10 * 14}  # 10 slices (2 held out) x 14
    assert len(default.history_) == 30
    assert FCDD.load(default.save(tmp_path / "run")).budget_ == default.budget_
    passes = FCDD(epochs=30, **options).fit(_slices(12, 0), progress=False)
    assert passes.budget_ == {"epochs": 30, "samples_per_epoch": 10}
    # Seeds 0-3 gave a default AUROC of 0.72-0.84 (30 passes: 0.22-0.71): the floor holds for every seed, a margin
    # over 30 passes does not; 17x the steps fits the training anomalies better (final loss 0.46-0.72x).
    default_auroc = image_auroc(labels, default.score(x))
    assert default_auroc >= 0.7, default_auroc
    assert default.history_[-1] < 0.75 * passes.history_[-1], (default.history_[-1], passes.history_[-1])
