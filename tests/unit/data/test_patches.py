"""The preprocessed-sample cache and the patches drawn from it: inside the object, off lesion masks, repeatable."""

from __future__ import annotations

import numpy as np
import pytest

from seedlens.data.patches import PatchDataset, PreprocessedCache
from seedlens.data.samples import ArraySamples
from seedlens.data.transforms import Preprocessor
from seedlens.errors import DataSourceError
from seedlens.types import Modality


def _grain_scans(n: int = 3, size: int = 40, seed: int = 0):
    """Volumes ``(1, size, size, size)``: a bright ellipsoid grain on dark air, and a lesion mask in the first."""
    rng = np.random.default_rng(seed)
    grid = np.stack(np.meshgrid(*[np.arange(size)] * 3, indexing="ij")).astype(np.float32)
    scans, masks = [], []
    for k in range(n):
        centre = np.array([size / 2 + k, size / 2, size / 2 - k])[:, None, None, None]
        inside = (((grid - centre) / np.array([14, 10, 8])[:, None, None, None]) ** 2).sum(0) <= 1
        scan = np.where(inside, 1000.0, -1000.0).astype(np.float32) + rng.normal(0, 20, (size,) * 3)
        mask = np.zeros((1, size, size, size), bool)
        if k == 0:
            mask[0, 18:24, 18:24, 14:20] = True  # a lesion inside the grain
            scan[18:24, 18:24, 14:20] = 200.0
        scans.append(scan[None].astype(np.float32))
        masks.append(mask if k == 0 else None)
    return scans, masks, grid


@pytest.fixture
def cache(tmp_path):
    scans, masks, _ = _grain_scans()
    samples = ArraySamples(scans, Modality.VOLUME, masks=masks)
    return PreprocessedCache.build(samples, Preprocessor(intensity="foreground"), tmp_path / "cache")


def test_patches_are_centred_in_the_object_and_never_touch_a_lesion(cache):
    dataset = PatchDataset(cache, (16, 16, 16), seed=3)
    lesion = np.asarray(cache.mask(0))
    for corner in dataset.candidates[0]:  # every candidate of the sample with the lesion
        region = tuple(slice(c, c + 16) for c in corner)
        assert not lesion[region].any() and cache.objects(0)[tuple(c + 8 for c in corner)]
    for epoch in range(3):
        dataset.set_epoch(epoch)
        for draw in range(60):
            sample, corner = dataset.corner(draw, draw)
            centre = tuple(c + 8 for c in corner)
            assert cache.objects(sample)[centre], "a patch centred in the air"
            if sample == 0:
                region = tuple(slice(c, c + 16) for c in corner)
                assert not lesion[region].any(), "a normal patch on the lesion"
    item = dataset[0]
    assert item["x"].shape == (1, 16, 16, 16) and item["mask"].shape == (1, 16, 16, 16)
    assert float(item["label"]) == 0.0 and not item["mask"].any()


def test_patch_draws_repeat_for_a_seed_epoch_and_draw_and_change_otherwise(cache):
    a, b = PatchDataset(cache, (16, 16, 16), seed=1), PatchDataset(cache, (16, 16, 16), seed=1)
    assert [a.corner(i, i) for i in range(9)] == [b.corner(i, i) for i in range(9)]
    before = [a.corner(i, i) for i in range(9)]
    a.set_epoch(1)
    assert [a.corner(i, i) for i in range(9)] != before
    assert a.corner(0, 0) != a.corner(0, 3)  # a repeat within the epoch is a new draw


def test_the_cache_holds_the_preprocessed_sample_and_its_intensity_map(cache, tmp_path):
    scans, _, _ = _grain_scans()
    pre = cache.preprocessor
    assert pre.intensity == "foreground" and pre.is_fitted
    stored = np.array(cache.array(1))
    entry = cache.entries[1]
    np.testing.assert_allclose(entry.intensity_map(stored.copy()), pre(scans[1]), rtol=1e-6, atol=1e-6)
    assert entry.has_mask is False and cache.entries[0].has_mask is True
    reopened = PreprocessedCache(tmp_path / "cache")
    assert reopened.entries == cache.entries


def test_a_labelled_anomaly_gives_patches_on_its_anomaly_however_small(tmp_path, monkeypatch):
    import seedlens.data.patches as patches

    monkeypatch.setattr(patches, "MAX_CANDIDATES", 64)  # a coarse grid, as on a large scan
    scans, _, _ = _grain_scans(n=2)
    tiny = np.zeros((1, 40, 40, 40), bool)
    tiny[0, 21:24, 19:22, 23:26] = True  # 3 voxels across, off any coarse grid
    samples = ArraySamples(scans, Modality.VOLUME, labels=[1, 0], masks=[tiny, None])
    cache = PreprocessedCache.build(samples, Preprocessor(intensity="minmax"), tmp_path / "small")
    dataset = PatchDataset(cache, (16, 16, 16), seed=0)
    assert all(dataset.item(0, 2 * draw)["mask"].any() for draw in range(30))


def test_a_labelled_anomaly_gives_patches_on_its_anomaly(tmp_path):
    scans, masks, _ = _grain_scans(n=2)
    samples = ArraySamples(scans, Modality.VOLUME, labels=[1, 0], masks=masks)
    cache = PreprocessedCache.build(samples, Preprocessor(intensity="minmax"), tmp_path / "c")
    dataset = PatchDataset(cache, (12, 12, 12), seed=0, avoid_masks=False)
    for draw in range(20):
        item = dataset.item(0, draw * 2)  # sample 0: the anomaly
        assert float(item["label"]) == 1.0 and item["mask"].any()


def test_samples_smaller_than_the_patch_are_padded_and_whole_samples_are_one_patch(tmp_path):
    small = [np.random.default_rng(i).random((1, 10, 12, 8), dtype=np.float32) + 1 for i in range(2)]
    cache = PreprocessedCache.build(ArraySamples(small, Modality.VOLUME), Preprocessor(intensity="none"),
                                    tmp_path / "s")
    item = PatchDataset(cache, (16, 16, 16)).item(0, 0)
    x = item["x"].numpy()
    assert x.shape == (1, 16, 16, 16)
    np.testing.assert_allclose(x[0, :10, :12, :8], small[0][0], rtol=1e-6)
    assert np.all(x[0, 10:] == pytest.approx(small[0].min()))
    whole = PreprocessedCache.build(ArraySamples(small, Modality.VOLUME), Preprocessor(size=(8, 8, 8)),
                                    tmp_path / "w")
    dataset = PatchDataset(whole, (8, 8, 8))
    assert dataset.whole_samples and dataset.corner(1, 5) == (1, (0, 0, 0))


def test_no_valid_patch_anywhere_is_an_error_naming_the_patch(tmp_path):
    scans = [np.ones((1, 20, 20, 20), np.float32)]
    everywhere = [np.ones((1, 20, 20, 20), bool)]
    cache = PreprocessedCache.build(ArraySamples(scans, Modality.VOLUME, masks=everywhere),
                                    Preprocessor(intensity="none"), tmp_path / "x")
    with pytest.raises(DataSourceError, match=r"patch of \(8, 8, 8\)"):
        PatchDataset(cache, (8, 8, 8))


def test_a_disk_too_full_for_the_preprocessed_scans_is_refused_before_writing(tmp_path, monkeypatch):
    import seedlens.data.patches as patches

    class Full:
        free = 1000

    monkeypatch.setattr(patches.shutil, "disk_usage", lambda _: Full)
    samples = ArraySamples([np.ones((1, 32, 32, 32), np.float32)], Modality.VOLUME)
    with pytest.raises(DataSourceError, match=r"0\.0 MB free, but preprocessing sample 0 needs 0\.2 MB"):
        PreprocessedCache.build(samples, Preprocessor(), tmp_path / "full")
    assert not list((tmp_path / "full").glob("*.npy"))
