"""The scikit-learn estimator contract on every registered detector: get/set_params, clone, fit(X, y), grid search."""

from __future__ import annotations

import dataclasses
import functools
import inspect
import tempfile
from pathlib import Path

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, StratifiedKFold

from seedlens.data import open_source
from seedlens.data.synthetic import write_seed_dataset
from seedlens.detectors import DETECTORS, create_detector, list_detectors
from seedlens.errors import ConfigError, NotFittedError, ShapeError
from seedlens.evaluation import image_auroc

#: Options that fit each detector in about a second on 28x28 images (deep detectors: one epoch).
FAST_FOR = {
    "rx": {"seed": 0},
    "knn": {"seed": 0, "pretrained": False, "image_size": 32, "memory_size": 200, "device": "cpu"},
    "clip": {"device": "cpu"},
}
DEEP_FAST = {"epochs": 1, "batch_size": 8, "device": "cpu", "seed": 0, "image_size": 28}
#: Per detector: an option and a value other than its default, and a misspelling of the option.
OTHER_FOR = {"rx": ("components", 3, "componets"), "knn": ("k", 3, "kk"), "clip": ("temperature", 50.0, "temperatre")}


@functools.cache
def tiny_clip() -> str:
    """A tiny random CLIP folder, written once per test process."""
    from seedlens.detectors.clip import write_random_clip

    return str(write_random_clip(Path(tempfile.mkdtemp(prefix="clip-")) / "tiny-clip"))


def fast(name: str) -> dict:
    options = dict(FAST_FOR.get(name, DEEP_FAST))
    if name == "clip":
        options["clip"] = tiny_clip()
    return options


def other(name: str) -> tuple[str, object, str]:
    return OTHER_FOR.get(name, ("weight_decay", 0.05, "weight_decy"))


def takes_y() -> list[str]:
    """The detectors whose ``fit`` takes scikit-learn's labels ``y``."""
    return [name for name in list_detectors() if "y" in inspect.signature(DETECTORS.get(name).fit).parameters]


def images(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((n, 1, 28, 28), dtype=np.float32)


# ------------------------------------------------------------------------------------------- get_params / set_params


@pytest.mark.parametrize("name", list_detectors())
def test_get_params_returns_every_option_with_the_given_values_as_the_same_objects(name):
    option, value, _ = other(name)
    given = [value]  # a mutable object: must come back as itself, not a copy
    detector = create_detector(name, **{option: given})
    params = detector.get_params()
    defaults = detector.Config()
    expected = {f.name: getattr(defaults, f.name) for f in dataclasses.fields(detector.Config)}
    assert list(params) == list(expected)
    assert params == {**expected, option: given}
    assert params[option] is given
    assert detector.get_params(deep=False) == params


@pytest.mark.parametrize("name", list_detectors())
def test_set_params_round_trip_returns_self(name):
    option, value, _ = other(name)
    detector = create_detector(name)
    assert detector.set_params(**{option: value}) is detector
    assert detector.get_params()[option] is value
    copy = create_detector(name).set_params(**detector.get_params())
    assert copy.get_params() == detector.get_params()


@pytest.mark.parametrize("name", list_detectors())
def test_set_params_refuses_an_unknown_option_naming_the_close_match_and_the_known_ones(name):
    option, _, misspelt = other(name)
    detector = create_detector(name)
    known = ", ".join(sorted(f.name for f in dataclasses.fields(detector.Config)))
    with pytest.raises(ConfigError, match=rf"unknown option '{misspelt}'.*did you mean '{option}'.*known: {known}$"):
        detector.set_params(**{misspelt: 1})
    assert misspelt not in detector.get_params()


def test_set_params_takes_effect_on_the_next_fit():
    x = images(10)
    detector = create_detector("rx").fit(x, progress=False)
    threshold = detector.threshold_
    detector.set_params(threshold=threshold + 1.0)
    assert detector.threshold_ == threshold  # fitted state stays until the next fit
    assert detector.fit(x, progress=False).threshold_ == threshold + 1.0


# ------------------------------------------------------------------------------------------- clone


@pytest.mark.parametrize("name", list_detectors())
def test_clone_of_an_unfitted_detector_has_equal_params(name):
    option, value, _ = other(name)
    detector = create_detector(name, **{**fast(name), option: value})
    twin = clone(detector)
    assert type(twin) is type(detector) and twin is not detector
    assert twin.get_params() == detector.get_params()
    assert not twin.is_fitted


@pytest.mark.parametrize("name", list_detectors())
def test_clone_of_a_fitted_detector_is_unfitted_with_equal_params(name):
    detector = create_detector(name, **fast(name)).fit(images(12), progress=False)
    twin = clone(detector)
    assert twin.get_params() == detector.get_params()
    assert detector.is_fitted and not twin.is_fitted
    with pytest.raises(NotFittedError, match="not fitted"):
        twin.score(images(1))


def test_clone_keeps_an_unknown_option_so_its_fit_refuses_it_too():
    twin = clone(create_detector("rx", componets=3))
    with pytest.raises(ConfigError, match="unknown option 'componets'"):
        twin.fit(images(6), progress=False)


# ------------------------------------------------------------------------------------------- fit(X, y)


@pytest.mark.parametrize("name", takes_y())
def test_fit_with_labels_fits_on_the_normal_samples(name):
    x, y = images(14), np.array([0, 1] * 7)
    probe = images(3, seed=1)
    labelled = create_detector(name, **fast(name))
    assert labelled.fit(x, y, progress=False) is labelled
    normal = create_detector(name, **fast(name)).fit(x[y == 0], progress=False)
    np.testing.assert_allclose(labelled.score(probe), normal.score(probe), rtol=1e-6)
    assert labelled.threshold_ == pytest.approx(normal.threshold_)
    listed = create_detector(name, **fast(name)).fit(list(x), y.astype(bool).tolist(), progress=False)
    np.testing.assert_allclose(listed.score(probe), normal.score(probe), rtol=1e-6)


@pytest.mark.parametrize("name", takes_y())
def test_fit_refuses_labels_of_the_wrong_length_or_values(name):
    detector = create_detector(name, **fast(name))
    with pytest.raises(ShapeError, match=r"y must have one label per sample \(6,\); got shape \(5,\)"):
        detector.fit(images(6), np.zeros(5), progress=False)
    with pytest.raises(ShapeError, match=r"y must be 1-D"):
        detector.fit(images(6), np.zeros((6, 1)), progress=False)
    with pytest.raises(ConfigError, match=r"y must be 0 .* got value 2 at index 3"):
        detector.fit(images(6), [0, 0, 0, 2, 0, 0], progress=False)
    with pytest.raises(ConfigError, match="all 6 samples anomalous"):
        detector.fit(images(6), np.ones(6), progress=False)


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    root = tmp_path_factory.mktemp("labelled")
    manifest = write_seed_dataset(root, modality="image", n_train=4, n_val_normal=2, n_val_anomalous=1,
                                  n_test_normal=1, n_test_anomalous=1, size=32)
    return open_source(manifest)


@pytest.mark.parametrize("name", takes_y())
def test_fit_refuses_labels_with_a_data_source(source, name):
    with pytest.raises(ConfigError, match="data source labels its own records"):
        create_detector(name, **fast(name)).fit(source, np.zeros(4), progress=False)


# ------------------------------------------------------------------------------------------- model selection


def spot_samples(n_normal: int, n_anomalous: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian 4-channel 16x16 samples; an anomalous one has a single pixel 6 standard deviations off in a channel.

    One pixel in 256 barely moves a map's mean, but it is the map's maximum.
    """
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n_normal + n_anomalous, 4, 16, 16)).astype(np.float32)
    y = np.r_[np.zeros(n_normal, dtype=int), np.ones(n_anomalous, dtype=int)]
    for i in np.flatnonzero(y):
        row, col = rng.integers(0, 16, size=2)
        x[i, 0, row, col] += 6.0
    return x, y


def auroc(detector, x, y) -> float:
    """scikit-learn scoring: ROC AUC of the detector's anomaly scores (its ``score`` is not an accuracy)."""
    return image_auroc(y, detector.score(x))


def test_grid_search_picks_max_pooling_for_single_pixel_anomalies():
    x, y = spot_samples(24, 12)
    search = GridSearchCV(create_detector("rx"), {"score_pooling": ["mean", "max"]}, scoring=auroc,
                          cv=StratifiedKFold(3), error_score="raise")
    search.fit(x, y)
    scores = dict(zip(search.cv_results_["param_score_pooling"], search.cv_results_["mean_test_score"], strict=True))
    assert search.best_params_ == {"score_pooling": "max"}
    assert scores["max"] > 0.95 and scores["max"] - scores["mean"] > 0.1
    best = search.best_estimator_
    assert best.is_fitted and best.get_params()["score_pooling"] == "max"
    fresh_x, fresh_y = spot_samples(10, 10, seed=1)
    assert auroc(best, fresh_x, fresh_y) > 0.95
