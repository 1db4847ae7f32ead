"""The Detector contract, run against every registered detector on 2D, 3D and cube data."""

from __future__ import annotations

import copy
import functools
import tempfile
from pathlib import Path

import numpy as np
import pytest

from seedlens.detectors import DETECTORS, create_detector, list_detectors, load_detector
from seedlens.errors import ConfigError, NotFittedError, ShapeError

DEEP_FAST = {"epochs": 1, "batch_size": 8, "device": "cpu", "seed": 0}
#: Options that make each detector fast; deep detectors train one epoch, knn uses a small random backbone, clip a
#: tiny random CLIP folder (:func:`tiny_clip`).
FAST_FOR = {
    "rx": {"seed": 0},
    "knn": {"seed": 0, "pretrained": False, "image_size": 32, "memory_size": 500, "device": "cpu"},
    "clip": {"device": "cpu"},
}
#: Detectors that work at the input resolution (no ``image_size``).
CLASSICAL = {"rx", "clip"}
#: Per detector: an option with an invalid value, and a misspelling of it with the name it should suggest.
BAD_FOR = {"rx": ("outer_window", -3, "outer_windw"), "knn": ("memory_size", -3, "memory_sise"),
           "clip": ("temperature", -3, "temperatur")}
#: The kinds of data each detector works on, as registered (``seedlens detectors`` prints them): the contract checks
#: that each works on those kinds and refuses the others.
KINDS_FOR = {name: set(DETECTORS.facts(name)["modalities"]) for name in list_detectors()}


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


def bad(name: str) -> tuple[str, int, str]:
    return BAD_FOR.get(name, ("epochs", -3, "epoch"))


def _images(n: int, rng: np.random.Generator) -> np.ndarray:
    return rng.random((n, 1, 28, 28), dtype=np.float32)


def _volumes(n: int, rng: np.random.Generator) -> np.ndarray:
    return rng.random((n, 1, 16, 16, 16), dtype=np.float32)


def _cubes(n: int, rng: np.random.Generator) -> np.ndarray:
    return rng.random((n, 12, 16, 16), dtype=np.float32)


KINDS = {
    "image": (_images, {"image_size": 28}),
    "volume": (_volumes, {"image_size": 16}),
    "cube": (_cubes, {"image_size": 16, "modality": "cube"}),
}


def supported(kind: str) -> list[str]:
    """The registered detectors that work on ``kind``."""
    return [name for name in list_detectors() if kind in KINDS_FOR[name]]


def pairs() -> list[tuple[str, str]]:
    """Every supported (detector, kind)."""
    return [(name, kind) for kind in sorted(KINDS) for name in supported(kind)]


def unsupported() -> list[tuple[str, str]]:
    """Every (detector, kind) a detector must refuse with a clear error."""
    return [(name, kind) for kind in sorted(KINDS) for name in list_detectors() if name not in supported(kind)]


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    """One fitted detector per (detector, kind), shared by the contract checks."""
    cache: dict[tuple[str, str], object] = {}

    def get(name: str, kind: str):
        if (name, kind) not in cache:
            make, extra = KINDS[kind]
            rng = np.random.default_rng(0)
            options = {**extra, **fast(name)}
            if name in CLASSICAL:
                options.pop("image_size", None)  # classical detectors work at the input resolution
            detector = create_detector(name, **options)
            detector.fit(make(12, rng), progress=False)
            cache[(name, kind)] = detector
        return cache[(name, kind)]

    return get


@pytest.mark.parametrize("name", list_detectors())
def test_unfitted_detector_raises_not_fitted(name):
    detector = create_detector(name, **fast(name))
    with pytest.raises(NotFittedError, match="not fitted"):
        detector.score(np.zeros((1, 1, 28, 28), np.float32))


@pytest.mark.parametrize("name", list_detectors())
def test_constructor_stores_params_and_fit_validates_them(name):
    option, value, _ = bad(name)
    detector = create_detector(name, **{option: value})
    assert detector.params[option] == value  # stored as given
    with pytest.raises(ConfigError, match=f"{option}={value}"):
        detector.fit(np.zeros((4, 1, 28, 28), np.float32), progress=False)


@pytest.mark.parametrize("name", list_detectors())
def test_unknown_option_is_named_with_a_close_match(name):
    option, _, misspelt = bad(name)
    detector = create_detector(name, **{misspelt: 3})
    with pytest.raises(ConfigError, match=rf"unknown option '{misspelt}'.*did you mean '{option}'"):
        detector.fit(np.zeros((4, 1, 28, 28), np.float32), progress=False)


@pytest.mark.parametrize(("name", "kind"), pairs())
def test_score_explain_predict_shapes(fitted, name, kind):
    detector = fitted(name, kind)
    make, _ = KINDS[kind]
    x = make(3, np.random.default_rng(1))
    scores = detector.score(x)
    assert scores.shape == (3,) and np.all(np.isfinite(scores))
    maps = detector.explain(x)
    assert maps.shape == (3, 1, *x.shape[2:])
    assert np.all(maps >= 0)
    predictions = detector.predict(x)
    assert predictions.dtype == bool and predictions.shape == (3,)
    np.testing.assert_array_equal(predictions, scores.astype(np.float64) >= detector.threshold_)


@pytest.mark.parametrize(("name", "kind"), pairs())
def test_predict_flags_a_score_equal_to_the_threshold(fitted, name, kind):
    make, _ = KINDS[kind]
    x = make(3, np.random.default_rng(1))
    tied = copy.copy(fitted(name, kind))  # the shared detector keeps its threshold
    scores = tied.score(x)
    middle = int(np.argsort(scores)[1])
    tied.threshold_ = float(scores[middle])  # exactly the middle sample's score
    predictions = tied.predict(x)
    assert predictions[middle]
    np.testing.assert_array_equal(predictions, scores >= scores[middle])


@pytest.mark.parametrize("name", list_detectors())
def test_explain_returns_maps_at_each_inputs_resolution(fitted, name):
    detector = fitted(name, "image")
    rng = np.random.default_rng(2)
    inputs = [rng.random((1, 40, 50), dtype=np.float32), rng.random((1, 20, 28), dtype=np.float32)]
    maps = detector.explain(inputs)
    assert [m.shape for m in maps] == [(1, 40, 50), (1, 20, 28)]
    for mode in ("local", "global"):
        normalized = detector.explain(inputs, normalize=mode)
        assert all(float(m.min()) >= 0.0 and float(m.max()) <= 1.0 for m in normalized)


@pytest.mark.parametrize(("name", "kind"), unsupported())
def test_unsupported_kind_is_refused_with_its_shape(name, kind):
    make, extra = KINDS[kind]
    extra = {key: value for key, value in extra.items() if key != "modality"}  # a cube is then a 12-channel image
    if name in CLASSICAL:
        extra.pop("image_size", None)
    detector = create_detector(name, **{**extra, **fast(name)})
    x = make(6, np.random.default_rng(0))
    with pytest.raises(ShapeError, match=rf"{name} detector works on .*got"):
        detector.fit(x, progress=False)


@pytest.mark.parametrize(("name", "kind"), pairs())
def test_save_load_round_trip_gives_identical_scores(fitted, tmp_path, name, kind):
    detector = fitted(name, kind)
    make, _ = KINDS[kind]
    x = make(4, np.random.default_rng(3))
    detector.save(tmp_path / "run")
    loaded = load_detector(tmp_path / "run", device="cpu")
    assert type(loaded) is type(detector)
    assert loaded.threshold_ == detector.threshold_
    np.testing.assert_allclose(loaded.score(x), detector.score(x), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(loaded.explain(x), detector.explain(x), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", supported("cube"))
def test_cube_with_other_band_count_names_both_counts(fitted, name):
    detector = fitted(name, "cube")
    with pytest.raises(ShapeError, match=r"13 bands.*12 bands"):
        detector.score(np.zeros((1, 13, 16, 16), np.float32))


@pytest.mark.parametrize("name", supported("volume"))
def test_wrong_layout_names_the_shape(fitted, name):
    detector = fitted(name, "volume")
    with pytest.raises(ShapeError, match=r"\(1, 16, 16\)"):
        detector.score([np.zeros((1, 16, 16), np.float32)])
