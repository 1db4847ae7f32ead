"""Deep detectors at native resolution: spacing kept, lazy data, patch training, scans of any size scored whole."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import torch

import seedlens.data.loading as loading
from seedlens.data import open_source
from seedlens.detectors import FCDD, Autoencoder, load_detector
from seedlens.io import read, write_nifti

FAST = {"epochs": 1, "batch_size": 4, "device": "cpu", "seed": 0, "backbone_options": {"channels": [4, 8, 8]}}


def _grain(shape, spacing, rng, radius_mm=6.0):
    """A grain of ``radius_mm`` on air, sampled at ``spacing`` (mm per voxel, (D, H, W))."""
    axes = [(np.arange(n) + 0.5) * s - n * s / 2 for n, s in zip(shape, spacing, strict=True)]
    d, h, w = np.meshgrid(*axes, indexing="ij")
    inside = d**2 + h**2 + w**2 <= radius_mm**2
    return (np.where(inside, 800.0, -1000.0) + rng.normal(0, 30, shape)).astype(np.float32)[None]


def _manifest(root, n_train=6, n_val=2, spacing=(2.0, 1.0, 1.0), shape=(12, 24, 24)):
    rng = np.random.default_rng(0)
    rows = []
    for i in range(n_train + n_val):
        path = root / f"grain{i}.nii"
        write_nifti(path, _grain(shape, spacing, rng)[0], spacing=spacing)
        rows.append({"path": path.name, "label": "normal", "split": "train" if i < n_train else "val"})
    manifest = root / "manifest.csv"
    with manifest.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["path", "label", "split"])
        writer.writeheader()
        writer.writerows(rows)
    return manifest


def test_training_reads_each_scan_a_bounded_number_of_times_and_none_while_training(tmp_path, monkeypatch):
    manifest = _manifest(tmp_path)
    reads: list[str] = []
    phase = {"training": False}
    real = loading._default_reader()

    def counting(path, *, modality=None):
        reads.append(f"{'train' if phase['training'] else 'other'}:{path.name}")
        return real(path, modality=modality)

    monkeypatch.setattr(loading, "_default_reader", lambda: counting)
    import seedlens.training as training

    real_train = training.train

    def watched(*args, **kwargs):
        phase["training"] = True
        try:
            return real_train(*args, **kwargs)
        finally:
            phase["training"] = False

    monkeypatch.setattr(training, "train", watched)
    FCDD(**FAST, patch_size=8).fit(open_source(manifest), progress=False)
    assert not [r for r in reads if r.startswith("train:")], "patches come from the preprocessed cache"
    for i in range(8):  # spacings come from the headers; each scan is read once (the first: also for the plan)
        count = sum(r == f"other:grain{i}.nii" for r in reads)
        assert count == (2 if i == 0 else 1), (i, count)


def test_volumes_are_resampled_to_the_median_spacing_and_heatmaps_come_back_on_each_scans_grid(tmp_path):
    manifest = _manifest(tmp_path)
    detector = FCDD(**FAST, patch_size=8).fit(open_source(manifest), progress=False)
    assert detector.plan_["spacing"] == [2.0, 1.0, 1.0] and detector.plan_["unknown_spacing"] == 0
    assert detector.preprocessor_.spacing == (2.0, 1.0, 1.0) and detector.preprocessor_.intensity == "foreground"
    # a scan of the same grain at another spacing and size: resampled like the training set, explained on its grid
    rng = np.random.default_rng(5)
    other = _grain((20, 18, 30), (1.0, 1.2, 0.8), rng)
    heat = detector.explain([other], spacing=[(1.0, 1.2, 0.8)])
    assert heat.shape == (1, 1, 20, 18, 30)
    detector.save(tmp_path / "run")
    loaded = load_detector(tmp_path / "run")
    np.testing.assert_allclose(loaded.score([other], spacing=(1.0, 1.2, 0.8)),
                               detector.score([other], spacing=(1.0, 1.2, 0.8)), rtol=1e-5)
    assert loaded.plan_["patch_size"] == [8, 8, 8]
    stats = loaded.training_stats_  # the run says how fast it trained and how long it waited for data
    assert stats["samples_per_s"] > 0 and 0 <= stats["data_wait_share"] <= 1 and stats["device"] == "cpu"


def test_arrays_without_spacing_are_isotropic_and_the_plan_says_so(tmp_path):
    rng = np.random.default_rng(1)
    scans = np.stack([_grain((16, 16, 16), (1.0, 1.0, 1.0), rng) for _ in range(6)])
    detector = FCDD(**FAST, spacing=0.5, patch_size=16).fit(scans, progress=False)
    assert detector.plan_["spacing"] == [0.5, 0.5, 0.5] and detector.plan_["unknown_spacing"] == 5  # one held out
    assert detector.explain(scans[:1]).shape == (1, 1, 16, 16, 16)  # unknown: isotropic at 0.5, not resampled


def test_a_scan_larger_than_any_window_is_scored_whole_and_equals_one_pass(tmp_path):
    rng = np.random.default_rng(2)
    scans = np.stack([_grain((24, 24, 24), (1.0, 1.0, 1.0), rng) for _ in range(6)])
    small = FCDD(**FAST, patch_size=12, window_size=32).fit(scans, progress=False)
    big = _grain((56, 48, 40), (1.0, 1.0, 1.0), rng, radius_mm=18)
    scores, heat = small.score_and_explain([big])
    assert heat.shape == (1, 1, 56, 48, 40)
    small.window_size_ = (64, 64, 64)  # one window holds the whole (padded) scan
    one_scores, one_heat = small.score_and_explain([big])
    np.testing.assert_allclose(scores, one_scores, rtol=1e-4)
    np.testing.assert_allclose(heat, one_heat, rtol=1e-4, atol=1e-6)


def test_a_scan_of_a_few_automatic_windows_is_scored_in_one_pass(monkeypatch):
    import seedlens.inference.sliding_window as sliding

    rng = np.random.default_rng(4)
    scans = np.stack([_grain((24, 24, 24), (1.0, 1.0, 1.0), rng) for _ in range(6)])
    detector = FCDD(**FAST, patch_size=12).fit(scans, progress=False)  # automatic window
    detector.window_size_ = (32, 32, 32)  # as if the automatic window were 32³: 2.5 windows = 81,920 voxels
    windows = []
    stitch = sliding.stitch_cells
    monkeypatch.setattr(sliding, "stitch_cells", lambda x, fn, window, *a, **k: (windows.append(window),
                                                                                 stitch(x, fn, window, *a, **k))[1])
    near = _grain((40, 40, 40), (1.0, 1.0, 1.0), rng, radius_mm=14)  # 64,000 voxels: one pass
    far = _grain((56, 48, 40), (1.0, 1.0, 1.0), rng, radius_mm=18)  # 107,520: windows
    detector.score([near])
    detector.score([far])
    assert windows[0] == (40, 40, 40) and windows[1] == (32, 32, 32)
    detector.config_.window_size = 32  # a window the user gave is a memory bound: kept
    detector.score([near])
    assert windows[2] == (32, 32, 32)


def test_the_autoencoder_blends_patch_windows_over_a_large_image(tmp_path):
    rng = np.random.default_rng(3)
    images = rng.random((8, 1, 32, 32), dtype=np.float32)
    detector = Autoencoder(epochs=1, batch_size=4, device="cpu", patch_size=16, base_channels=4, depth=2)
    detector.fit(images, progress=False)
    assert detector.input_size_ == (16, 16) and detector.plan_["image_size"] is None
    heat = detector.explain([rng.random((1, 50, 70), dtype=np.float32)])
    assert heat.shape == (1, 1, 50, 70) and np.isfinite(heat).all()


@pytest.mark.parametrize("pooling", ["mean", "max", "topk"])
def test_a_padded_scan_is_pooled_over_its_own_cells_only(tmp_path, pooling):
    from seedlens.anomaly import pool_maps

    rng = np.random.default_rng(4)
    scans = np.stack([_grain((16, 16, 16), (1.0, 1.0, 1.0), rng) for _ in range(6)])
    detector = FCDD(**FAST, patch_size=16, score_pooling=pooling, topk_fraction=0.1).fit(scans, progress=False)
    odd = _grain((13, 15, 14), (1.0, 1.0, 1.0), rng)  # padded to 16³ inside the detector
    padded = detector.preprocessor_(odd, pad_to=(16, 16, 16))
    module = detector.scoring_module()
    with torch.no_grad():
        cells = module.anomaly_map(torch.from_numpy(padded)[None])
    centres = [np.arange(n) * 4 + 1.5 for n in cells.shape[2:]]  # fcdd3d: jump 4, shift 1.5
    inside = np.ix_(*[c <= n - 0.5 for c, n in zip(centres, (13, 15, 14), strict=True)])
    valid = torch.zeros_like(cells, dtype=torch.bool)
    valid[0, 0][inside] = True
    expected = pool_maps(cells, pooling, 0.1, valid=valid)
    np.testing.assert_allclose(detector.score([odd]), expected.numpy(), rtol=1e-5)
    assert detector.score([odd])[0] != pytest.approx(float(pool_maps(cells, pooling, 0.1)[0]), rel=1e-6)


def test_flips_of_a_padded_scan_pool_the_cells_of_the_scan_wherever_the_flip_puts_its_padding(tmp_path):
    import itertools

    from seedlens.anomaly import pool_maps

    rng = np.random.default_rng(8)
    scans = np.stack([_grain((16, 16, 16), (1.0, 1.0, 1.0), rng) for _ in range(6)])
    detector = FCDD(**FAST, patch_size=16, test_time_flips=True, score_pooling="max").fit(scans, progress=False)
    odd = _grain((13, 15, 14), (1.0, 1.0, 1.0), rng)  # padded at the end to 16³: at the start once flipped
    padded = torch.from_numpy(detector.preprocessor_(odd, pad_to=(16, 16, 16)))[None]
    module = detector.scoring_module()
    expected = []
    for r in range(4):
        for axes in itertools.combinations((2, 3, 4), r):
            with torch.no_grad():
                cells = module.anomaly_map(padded.flip(axes) if axes else padded)
            masks = []
            for axis, n in zip((2, 3, 4), (13, 15, 14), strict=True):
                centre = np.arange(cells.shape[axis]) * 4 + 1.5
                masks.append(centre >= 16 - n - 0.5 if axis in axes else centre <= n - 0.5)
            valid = torch.zeros_like(cells, dtype=torch.bool)
            valid[0, 0][np.ix_(*masks)] = True
            expected.append(float(pool_maps(cells, "max", valid=valid)[0]))
    assert detector.score([odd])[0] == pytest.approx(np.mean(expected), rel=1e-5)


def test_spacings_may_be_numpy_numbers_and_one_voxel_sides_still_score(tmp_path):
    rng = np.random.default_rng(9)
    scans = np.stack([_grain((16, 16, 16), (1.0, 1.0, 1.0), rng) for _ in range(6)])
    detector = FCDD(**FAST, patch_size=16, spacing=1.0).fit(scans, progress=False)
    x = [scans[0], scans[1]]
    reference = detector.score(x, spacing=(1.0, 1.0, 1.0))
    for spacing in (np.array([1.0, 1.0, 1.0], np.float32), (np.int64(1),) * 3, [np.float32(1)] * 3):
        np.testing.assert_allclose(detector.score(x, spacing=spacing), reference, rtol=1e-6)
    thin = _grain((1, 16, 16), (1.0, 1.0, 1.0), rng)  # a single slice
    assert np.isfinite(detector.score([thin])).all() and detector.explain([thin]).shape == (1, 1, 1, 16, 16)


def test_a_detector_saved_before_windows_were_recorded_still_scores(tmp_path):
    import json

    rng = np.random.default_rng(10)
    images = rng.random((8, 1, 30, 30), dtype=np.float32)
    detector = FCDD(epochs=1, batch_size=4, device="cpu", image_size=30, backbone="fcdd28").fit(images, progress=False)
    expected = detector.score(images[:3])
    folder = detector.save(tmp_path / "run")
    state = json.loads((folder / "state.json").read_text())
    for key in ("window_size", "input_multiple", "plan"):  # what runs saved before native resolution lack
        state.pop(key)
    state["preprocessor"].pop("keep_aspect")
    state["preprocessor"].pop("spacing")
    (folder / "state.json").write_text(json.dumps(state))
    old = load_detector(folder)
    assert old.window_size_ == (32, 32) and old.preprocessor_.keep_aspect is False
    np.testing.assert_allclose(old.score(images[:3]), expected, rtol=1e-5)


def test_refitting_after_set_params_uses_the_new_network(tmp_path):
    rng = np.random.default_rng(11)
    images = rng.random((8, 1, 40, 40), dtype=np.float32)
    detector = FCDD(epochs=1, batch_size=4, device="cpu", patch_size=20, backbone="fcdd32").fit(images,
                                                                                               progress=False)
    assert detector.input_multiple == 4
    detector.set_params(backbone="fcdd224").fit(images, progress=False)
    assert detector.input_multiple == 8 and detector.input_size_ == (24, 24)
    assert np.isfinite(detector.score(images[:2])).all()


def test_read_nifti_spacing_reaches_score_from_the_file(tmp_path):
    path = tmp_path / "scan.nii.gz"
    rng = np.random.default_rng(6)
    write_nifti(path, _grain((10, 20, 20), (2.0, 1.0, 1.0), rng)[0], spacing=(2.0, 1.0, 1.0))
    array, meta = read(path)
    assert meta.spacing == pytest.approx((2.0, 1.0, 1.0)) and array.shape == (1, 10, 20, 20)
