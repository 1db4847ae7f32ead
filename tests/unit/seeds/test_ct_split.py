"""Grain instance segmentation, crops and traits on multi-grain phantoms with known instance labels."""

from __future__ import annotations

import json

import numpy as np
import pytest

from seedlens.data.synthetic.ear import make_ear_phantom
from seedlens.errors import ConfigError, ShapeError
from seedlens.seeds import NoGrainError, crop_grains, grain_traits, segment_grains, split_volume, write_split


def _dice_per_truth_grain(truth: np.ndarray, labels: np.ndarray) -> list[float]:
    scores = []
    for k in range(1, int(truth.max()) + 1):
        grain = truth == k
        overlap = np.bincount(labels[grain], minlength=int(labels.max()) + 1)
        overlap[0] = 0
        found = labels == overlap.argmax()
        scores.append(2 * float((grain & found).sum()) / float(grain.sum() + found.sum()))
    return scores


@pytest.mark.parametrize("seed", [0, 3])
def test_separated_grains_are_all_found_with_high_dice(seed):
    phantom = make_ear_phantom(8, touching_pairs=0, rng=seed)
    seg = segment_grains(phantom.volume)
    assert seg.count == 8
    assert np.mean(_dice_per_truth_grain(phantom.labels, seg.labels)) >= 0.9
    assert (seg.labels[phantom.stem] > 0).mean() <= 0.05, "the stem must not become grain"


@pytest.mark.parametrize("seed", [1, 5])
def test_touching_grains_are_split(seed):
    phantom = make_ear_phantom(8, touching_pairs=4, rng=seed)
    assert len(phantom.touching) == 4
    seg = segment_grains(phantom.volume)
    assert abs(seg.count - 8) <= 1
    assert np.mean(_dice_per_truth_grain(phantom.labels, seg.labels)) >= 0.9


def test_specks_are_removed_and_grains_numbered_along_the_stem():
    phantom = make_ear_phantom(6, specks=12, rng=2)
    seg = segment_grains(phantom.volume)
    assert seg.count == 6
    centres = [np.argwhere(seg.labels == k).mean(axis=0)[0] for k in range(1, 7)]
    assert centres == sorted(centres)


def test_traits_match_the_phantom_volume_and_axes():
    phantom = make_ear_phantom(5, husk=0, rng=4, grain_size=(10, 13))
    seg = segment_grains(phantom.volume, surround="air")
    spacing = (phantom.spacing,) * 3
    for grain in crop_grains(phantom.volume, seg):
        traits = grain_traits(grain, seg.air_level, spacing)
        truth = phantom.grains[np.bincount(phantom.labels[seg.labels == grain.index]).argmax() - 1]
        axes = sorted((2 * a * phantom.spacing for a in truth.semi_axes), reverse=True)
        assert traits["volume_mm3"] == pytest.approx(truth.voxels * phantom.spacing**3, rel=0.05)
        assert traits["length_mm"] == pytest.approx(axes[0], rel=0.05)
        assert traits["width_mm"] == pytest.approx(axes[1], rel=0.05)
        assert traits["thickness_mm"] == pytest.approx(axes[2], rel=0.05)
        assert traits["cavity_fraction"] < 0.01


def test_cavity_fraction_sees_an_internal_void():
    phantom = make_ear_phantom(3, husk=0, stem=False, rng=6, grain_size=(11, 12))
    seg = segment_grains(phantom.volume, surround="air")
    grain = crop_grains(phantom.volume, seg)[0]
    before = grain_traits(grain, seg.air_level)["cavity_fraction"]
    centre = np.round(np.argwhere(grain.mask).mean(axis=0)).astype(int)
    zz, yy, xx = np.indices(grain.mask.shape)
    void = (zz - centre[0]) ** 2 + (yy - centre[1]) ** 2 + (xx - centre[2]) ** 2 <= 9
    grain.values[void] = seg.air_level
    after = grain_traits(grain, seg.air_level)["cavity_fraction"]
    assert before < 0.01 < after


def test_crops_keep_their_place_and_isolate_the_grain():
    phantom = make_ear_phantom(4, touching_pairs=1, rng=7)
    seg = segment_grains(phantom.volume)
    for grain in crop_grains(phantom.volume, seg, margin=2):
        window = tuple(slice(a, b) for a, b in grain.bbox)
        assert np.array_equal(grain.mask, seg.labels[window] == grain.index)
        assert np.allclose(grain.values[grain.mask], phantom.volume[window][grain.mask])
        assert np.all(grain.values[~grain.mask] == np.float32(seg.air_level))
        assert all(a <= c < b for c, (a, b) in zip(grain.centroid, grain.bbox, strict=True))


def test_a_scan_without_grains_is_refused_clearly():
    empty = np.random.default_rng(0).normal(0, 0.01, size=(40, 30, 30)).astype(np.float32)
    with pytest.raises(NoGrainError, match="no grain"):
        segment_grains(empty, threshold=0.5)
    with pytest.raises(NoGrainError, match="constant"):
        segment_grains(np.zeros((20, 20, 20), np.float32))


def test_bad_options_and_shapes_are_named():
    volume = make_ear_phantom(2, rng=0).volume
    with pytest.raises(ConfigError, match="unknown threshold method 'otsu3'"):
        segment_grains(volume, threshold="otsu3")
    with pytest.raises(ConfigError, match="surround"):
        segment_grains(volume, surround="water")
    with pytest.raises(ConfigError, match="grain_size"):
        segment_grains(volume, grain_size=0.5)
    with pytest.raises(ShapeError, match=r"\(D, H, W\)"):
        segment_grains(volume[0])
    with pytest.raises(ShapeError, match="GiB"):
        segment_grains(volume, max_memory=1000)
    holed = volume.copy()
    holed[0, 0, :3] = np.nan
    with pytest.raises(ShapeError, match="3 non-finite values"):
        segment_grains(holed)


def test_write_split_round_trips_and_reruns_cleanly(tmp_path):
    from seedlens.io import read

    phantom = make_ear_phantom(4, rng=8)
    result = split_volume(phantom.volume, "ear", spacing=(0.05, 0.05, 0.05))
    out = write_split(result, phantom.volume, tmp_path / "split")
    manifest = json.loads((out / "split.json").read_text())
    assert manifest["spacing_known"] and len(manifest["grains"]) == result.segmentation.count
    table = (out / "grains.csv").read_text().splitlines()
    assert table[0].startswith("sample_id,voxels,volume_mm3,length_mm")
    assert [row.split(",")[0] for row in table[1:]] == [f"ear-g0{k}" for k in range(1, 5)]
    first = manifest["grains"][0]
    values, meta = read(out / first["file"])
    mask, _ = read(out / first["mask"])
    assert values.shape == mask.shape == (1, *result.grains[0].mask.shape)
    assert np.allclose(values[0], result.grains[0].values)
    assert meta.affine[:3, 3] == pytest.approx([0.05 * first["bbox"][2][0], 0.05 * first["bbox"][1][0],
                                                0.05 * first["bbox"][0][0]])
    assert (out / "ear-split.png").stat().st_size > 1000
    # A rerun that finds fewer grains (half the ear) leaves no stale crop behind.
    half = phantom.volume[: phantom.volume.shape[0] // 2]
    fewer = split_volume(half, "ear")
    assert 0 < fewer.segmentation.count < result.segmentation.count
    write_split(fewer, half, out)
    crops = sorted(p.name for p in out.glob("ear-g*.nii.gz"))
    assert crops == [f"ear-g0{k}.nii.gz" for k in range(1, fewer.segmentation.count + 1)]
    assert len(list((out / "masks").glob("*.nii.gz"))) == fewer.segmentation.count
