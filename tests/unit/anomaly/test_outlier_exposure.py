"""Outlier sets, their strong augmentation and the batched Outlier Exposure generator (the EOE protocol)."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile
import torch

from seedlens.anomaly import OutlierAugment, OutlierExposure, OutlierSet
from seedlens.anomaly.outlier_exposure import matched_scaling
from seedlens.anomaly.outlier_sets import parse_count
from seedlens.data.transforms.unit import to_unit_range
from seedlens.errors import ConfigError, DataSourceError, ShapeError
from seedlens.io import write_png


def _picture(size: int = 24) -> np.ndarray:
    """A grey gradient with a bright square: values in [0, 1]."""
    image = np.tile(np.linspace(0.1, 0.6, size), (size, 1))
    image[4:10, 12:20] = 1.0
    return image


@pytest.fixture
def outlier_folder(tmp_path):
    (tmp_path / "outliers" / "nested").mkdir(parents=True)
    for i in range(5):
        write_png(tmp_path / "outliers" / f"o{i}.png", np.roll(_picture(), i, axis=1))
    write_png(tmp_path / "outliers" / "nested" / "deep.png", _picture())
    (tmp_path / "outliers" / "notes.txt").write_text("not an image")
    (tmp_path / "outliers" / ".hidden.png").write_bytes(b"")
    return tmp_path / "outliers"


def test_folders_are_searched_recursively_and_files_taken_as_given(outlier_folder, tmp_path):
    found = OutlierSet.from_paths(outlier_folder)
    assert len(found) == 6 and any(name.endswith("nested/deep.png") for name in found.names)
    assert found.scaling_hint == "match"
    extra = tmp_path / "one.png"
    write_png(extra, _picture())
    both = OutlierSet.from_paths([outlier_folder / "o0.png", extra, outlier_folder / "o0.png"])
    assert len(both) == 2  # a file named twice is one outlier
    assert both.load(1).array.shape == (1, 24, 24)


def test_missing_paths_and_empty_folders_are_named(tmp_path):
    with pytest.raises(DataSourceError, match="gone does not exist"):
        OutlierSet.from_paths(tmp_path / "gone")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataSourceError, match=r"empty holds no sample file \(searched recursively for .*\.png"):
        OutlierSet.from_paths(tmp_path / "empty")


def test_a_subset_is_fixed_by_its_seed_and_kept_in_order(outlier_folder):
    full = OutlierSet.from_paths(outlier_folder)
    assert full.subset(3, seed=1).names == full.subset(3, seed=1).names
    draws = {tuple(full.subset(3, seed=s).names) for s in range(8)}
    assert len(draws) > 1  # different seeds, different subsets
    for names in draws:
        assert list(names) == [n for n in full.names if n in names] and len(set(names)) == 3
    assert full.subset("all") is full and full.subset(None) is full and len(full.subset("2")) == 2
    with pytest.raises(ConfigError, match="outlier_count=7 but only 6 outliers"):
        full.subset(7)


@pytest.mark.parametrize("bad", [0, -1, "some", 1.5, True])
def test_bad_counts_are_refused(bad):
    with pytest.raises(ConfigError, match="positive integer or 'all'"):
        parse_count(bad)


def test_outliers_must_not_be_test_samples(outlier_folder):
    outliers = OutlierSet.from_paths(outlier_folder)
    outliers.check_disjoint([outlier_folder / "other.png"])
    with pytest.raises(ConfigError, match=r"1 outlier file\(s\) are also test samples .*o3.png"):
        outliers.check_disjoint([outlier_folder / "other.png", outlier_folder / "o3.png"])


def test_arrays_are_checked_and_kept_raw():
    assert OutlierSet.from_arrays(np.zeros((3, 1, 8, 8))).scaling_hint == "raw"
    assert len(OutlierSet.from_arrays([np.zeros((1, 8, 8)), np.ones((1, 6, 6))])) == 2
    with pytest.raises(ShapeError, match=r"\(K, C, \*spatial\)"):
        OutlierSet.from_arrays(np.zeros((8, 8)))
    with pytest.raises(ShapeError, match="outlier array 1 must be"):
        OutlierSet.from_arrays([np.zeros((1, 8, 8)), np.zeros(8)])


def unit(array: np.ndarray) -> list[float]:
    return to_unit_range(np.asarray(array)[None])[0].tolist()


def test_unit_range_reads_the_bit_depth_from_the_type():
    assert unit(np.array([0, 128, 255], np.uint8)) == pytest.approx([0, 128 / 255, 1])
    # a dark 16-bit image stays dark
    assert max(unit(np.array([0, 6553], np.uint16))) == pytest.approx(0.1, abs=1e-4)
    assert unit(np.array([-1000.0, 0.0, 1000.0])) == [0.0, 0.5, 1.0]
    assert unit(np.array([0.2, 0.3])) == pytest.approx([0.2, 0.3])  # floats in [0, 1] as they are
    assert unit(np.full(4, 7.0)) == [0.0] * 4


def test_mixed_sets_scale_only_their_unrelated_files(tmp_path):
    write_png(tmp_path / "picture.png", _picture())
    mixed = OutlierSet.union([OutlierSet.from_paths(tmp_path / "picture.png"),
                              OutlierSet.from_arrays(np.full((1, 1, 24, 24), 500.0, np.float32))])
    assert mixed.scaling_hint == "mixed" and [mixed.hint(0), mixed.hint(1)] == ["match", "raw"]
    exposure = OutlierExposure(mixed, lambda a, s: a, (24, 24), scaling=matched_scaling((0.0, 1000.0)),
                               scale_hinted_only=True)
    assert float(exposure.prepared(0).max()) == pytest.approx(1000.0)  # the picture onto the normals' range
    assert float(exposure.prepared(1).max()) == pytest.approx(500.0)  # the data's own values untouched


def test_a_pictures_alpha_channel_is_dropped(tmp_path):
    from PIL import Image

    rgba = np.zeros((16, 16, 4), np.uint8)
    rgba[..., 0], rgba[..., 3] = 200, 255
    Image.fromarray(rgba, "RGBA").save(tmp_path / "logo.png")
    assert OutlierSet.from_paths(tmp_path / "logo.png").load(0).array.shape == (3, 16, 16)


def test_an_8_bit_png_and_a_16_bit_tiff_of_one_picture_are_prepared_alike(tmp_path):
    picture = _picture()
    write_png(tmp_path / "eight.png", picture)
    tifffile.imwrite(tmp_path / "sixteen.tif", np.round(picture * 65535).astype(np.uint16))
    outliers = OutlierSet.from_paths([tmp_path / "eight.png", tmp_path / "sixteen.tif"])
    assert outliers.load(0).array.dtype == np.uint8 and outliers.load(1).array.dtype == np.uint16
    # the normal data: CT-like numbers in [-1000, 3000]; the preprocessing squashes them to [0, 1]
    exposure = OutlierExposure(outliers, lambda a, spacing: (a - -1000.0) / 4000.0, (24, 24),
                               scaling=matched_scaling((-1000.0, 3000.0)))
    eight, sixteen = exposure.prepared(0), exposure.prepared(1)
    assert float(eight.min()) == pytest.approx(0.1, abs=0.01) and float(eight.max()) == pytest.approx(1.0)
    np.testing.assert_allclose(eight.numpy(), sixteen.numpy(), atol=1 / 255)


def test_one_outlier_gives_a_different_outlier_at_every_draw():
    image = torch.from_numpy(_picture(32)).float()[None]
    exposure = OutlierExposure(OutlierSet.from_arrays(image[None].numpy()), lambda a, s: a, (32, 32),
                               augment=OutlierAugment())
    x = torch.zeros(16, 1, 32, 32)
    drawn, masks = exposure.batch(x, torch.Generator().manual_seed(0))
    assert drawn.shape == x.shape and masks.shape == (16, 1, 32, 32) and bool(masks.eq(1).all())
    flat = drawn.flatten(1)
    distances = torch.cdist(flat, flat)
    assert float(distances[~torch.eye(16, dtype=torch.bool)].min()) > 0.5  # no two draws alike
    assert float((flat - image.flatten()).norm(dim=1).min()) > 0.5  # none is the raw image
    assert float(drawn.min()) >= 0.1 - 1e-5 and float(drawn.max()) <= 1.0 + 1e-5  # within the image's own range
    again, _ = exposure.batch(x, torch.Generator().manual_seed(0))
    torch.testing.assert_close(drawn, again)  # seeded: a resumed run draws the same outliers


def test_without_augmentation_draws_are_the_prepared_outliers():
    arrays = np.stack([np.full((1, 16, 16), v, np.float32) for v in (0.2, 0.5, 0.9)])
    exposure = OutlierExposure(OutlierSet.from_arrays(arrays), lambda a, s: a, (16, 16))
    drawn, _ = exposure.batch(torch.zeros(32, 1, 16, 16), torch.Generator().manual_seed(3))
    values = {round(float(v), 3) for v in drawn.flatten(1)[:, 0]}
    assert values == {0.2, 0.5, 0.9}


def test_outliers_larger_or_smaller_than_the_input_are_cut_or_padded():
    big = np.arange(40 * 40, dtype=np.float32).reshape(1, 1, 40, 40)
    exposure = OutlierExposure(OutlierSet.from_arrays(big), lambda a, s: a, (16, 16))
    drawn, _ = exposure.batch(torch.zeros(6, 1, 16, 16), torch.Generator().manual_seed(0))
    corners = {float(d[0, 0, 0]) for d in drawn}
    assert len(corners) > 1  # cut at random places
    for d in drawn:  # each is a contiguous 16x16 window of the big image
        r, c = divmod(int(d[0, 0, 0]), 40)
        torch.testing.assert_close(d[0], torch.from_numpy(big[0, 0, r:r + 16, c:c + 16]))
    tile = np.full((1, 1, 8, 8), 3.0, np.float32)
    tile[0, 0, 0, 0] = 1.0
    small = OutlierExposure(OutlierSet.from_arrays(tile), lambda a, s: a, (16, 16))
    padded, _ = small.batch(torch.zeros(2, 1, 16, 16))  # padded with the outlier's minimum
    assert padded.shape == (2, 1, 16, 16) and float(padded.sum()) == pytest.approx(2 * (63 * 3 + 1 + 192 * 1))


@pytest.mark.parametrize("shape", [(1, 12, 12, 12), (6, 16, 16)])
def test_volumes_and_cubes_are_augmented_alike(shape):
    rng = np.random.default_rng(0)
    sample = rng.random(shape).astype(np.float32)
    exposure = OutlierExposure(OutlierSet.from_arrays(sample[None]), lambda a, s: a, shape[1:],
                               augment=OutlierAugment())
    drawn, masks = exposure.batch(torch.zeros(4, *shape), torch.Generator().manual_seed(1))
    assert drawn.shape == (4, *shape) and masks.shape == (4, 1, *shape[1:])
    assert float(torch.cdist(drawn.flatten(1), drawn.flatten(1)).fill_diagonal_(9).min()) > 0.1
    assert float(drawn.min()) >= float(sample.min()) - 1e-5 and float(drawn.max()) <= float(sample.max()) + 1e-5


def test_mismatched_batches_and_bad_augment_options_are_refused():
    exposure = OutlierExposure(OutlierSet.from_arrays(np.zeros((1, 3, 8, 8))), lambda a, s: a, (8, 8))
    with pytest.raises(ShapeError, match=r"x must be \(N, C, 8, 8\)"):
        exposure.batch(torch.zeros(2, 3, 9, 9))
    with pytest.raises(ShapeError, match="outliers have 3 channels but the batch has 1"):
        exposure.batch(torch.zeros(2, 1, 8, 8))
    with pytest.raises(ConfigError, match="min_area"):
        OutlierAugment(min_area=0)
    with pytest.raises(ShapeError, match=r"outlier outlier array 0: prepared to shape \(8, 8\)"):
        OutlierExposure(OutlierSet.from_arrays(np.zeros((1, 1, 8, 8))), lambda a, s: a[0], (8, 8))


def test_a_folder_of_dicom_slices_is_one_volume_outlier(tmp_path):
    from seedlens.hub.testing import write_dicom_series

    write_dicom_series(tmp_path / "ct" / "series", n_slices=3, size=6)
    write_png(tmp_path / "ct" / "picture.png", _picture())
    found = OutlierSet.from_paths(tmp_path / "ct")
    assert [n.rsplit("/", 1)[-1] for n in found.names] == ["picture.png", "series"]
    assert found.load(1).array.shape == (1, 3, 6, 6)
