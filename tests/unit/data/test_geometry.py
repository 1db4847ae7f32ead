"""Spacing-aware resampling, aspect-keeping fits, the foreground intensity rule and maps brought back to the input."""

from __future__ import annotations

import numpy as np
import pytest

from seedlens.data.transforms import Preprocessor
from seedlens.data.transforms.foreground import object_mask
from seedlens.data.transforms.geometry import plan_geometry, resampled_affine, restore_map
from seedlens.errors import ConfigError, ShapeError


def _sphere(spacing, radius_mm=1.0, extent_mm=3.2):
    """A volume ``(1, D, H, W)`` at ``spacing`` holding a sphere of ``radius_mm`` at its centre, and its affine."""
    shape = [round(extent_mm / s) for s in spacing]
    axes = [(np.arange(n) + 0.5) * s - extent_mm / 2 for n, s in zip(shape, spacing, strict=True)]
    d, h, w = np.meshgrid(*axes, indexing="ij")
    volume = (d**2 + h**2 + w**2 <= radius_mm**2).astype(np.float32)[None]
    affine = np.diag([spacing[2], spacing[1], spacing[0], 1.0])  # maps (w, h, d, 1)
    affine[:3, 3] = [spacing[2] / 2 - extent_mm / 2, spacing[1] / 2 - extent_mm / 2, spacing[0] / 2 - extent_mm / 2]
    return volume, affine


@pytest.mark.parametrize("spacing", [(0.1, 0.1, 0.1), (0.05, 0.1, 0.08), (0.2, 0.04, 0.05), (0.16, 0.16, 0.16)])
def test_a_one_mm_sphere_stays_one_mm_at_any_input_spacing(spacing):
    volume, affine = _sphere(spacing)
    pre = Preprocessor(spacing=(0.08, 0.08, 0.08), intensity="none")
    out = pre(volume, spacing=spacing)
    geometry = pre.geometry(volume.shape[1:], spacing)
    assert out.shape[1:] == geometry.output_shape == geometry.resampled_shape
    assert np.allclose(geometry.spacing, 0.08, rtol=0.03)
    inside = out[0] > 0.5
    voxel = float(np.prod(geometry.spacing))
    assert inside.sum() * voxel == pytest.approx(4 / 3 * np.pi, rel=0.08)  # volume of the sphere, mm³
    for axis in range(3):  # the sphere is 2 mm across along every axis
        others = tuple(a for a in range(3) if a != axis)
        assert inside.any(axis=others).sum() * geometry.spacing[axis] == pytest.approx(2.0, abs=0.2)
    # the sphere's centre maps to the same world point through both affines
    new_affine = resampled_affine(affine, geometry)
    centre_in = np.array([*(np.array(volume.shape[1:][::-1]) - 1) / 2, 1.0])
    centre_out = np.array([*(np.array(out.shape[1:][::-1]) - 1) / 2, 1.0])
    assert np.allclose(affine @ centre_in, new_affine @ centre_out, atol=1e-9)
    assert np.allclose(np.abs(np.diag(new_affine)[:3]), geometry.spacing[::-1])


def test_unknown_spacing_is_isotropic_at_the_finest_target_spacing():
    geometry = plan_geometry((10, 40, 40), None, target_spacing=(2.0, 0.5, 0.5))
    assert not geometry.spacing_known and geometry.input_spacing == (0.5, 0.5, 0.5)
    assert geometry.resampled_shape == (2, 40, 40)
    assert plan_geometry((10, 40, 40), None, None).resampled_shape == (10, 40, 40)


def test_keep_aspect_fits_the_long_side_and_pads_the_rest_with_the_minimum():
    image = np.zeros((1, 30, 60), np.float32) + 5.0
    image[0, :, :30] = 9.0
    pre = Preprocessor(size=(32, 32), keep_aspect=True)
    out = pre(image)
    geometry = pre.geometry(image.shape[1:])
    assert out.shape == (1, 32, 32) and geometry.resampled_shape == (16, 32)
    assert np.all(out[0, 16:] == out[0, :16].min())  # padded at the end, with the sample's minimum
    assert out[0, 16:].min() == pytest.approx(5.0)
    assert out[0, :16, :14].min() == pytest.approx(9.0) and out[0, :16, 18:].max() == pytest.approx(5.0)
    stretched = Preprocessor(size=(32, 32))(image)
    assert stretched.shape == (1, 32, 32) and stretched[0, 31, 0] == pytest.approx(9.0)


def test_a_thin_lesion_survives_a_shrinking_resample_of_its_mask():
    from seedlens.data.transforms.geometry import mask_on_grid

    geometry = plan_geometry((40, 40, 40), (0.5, 0.5, 0.5), target_spacing=1.0)
    for slice_index in (20, 21):  # one slice thin, on either side of the new grid's sample points
        lesion = np.zeros((40, 40, 40), bool)
        lesion[slice_index, 10:20, 10:20] = True
        assert mask_on_grid(lesion, geometry, any_coverage=True).sum() == 25
    assert mask_on_grid(lesion, geometry).shape == (20, 20, 20)


def test_maps_come_back_on_the_inputs_own_grid():
    geometry = plan_geometry((30, 60), None, size=32, keep_aspect=True)
    heat = np.zeros((1, 32, 32), np.float32)
    heat[0, :16, 16:] = 1.0  # right half of the image part; the padded rows are dropped
    back = restore_map(heat, geometry)
    assert back.shape == (1, 30, 60)
    assert back[0, :, 35:].min() > 0.99 and back[0, :, :25].max() < 0.01
    with pytest.raises(ShapeError, match=r"map must be \(K, \*\(32, 32\)\)"):
        restore_map(np.zeros((1, 30, 60)), geometry)


def test_foreground_intensity_clips_to_object_percentiles_and_standardises():
    rng = np.random.default_rng(0)
    scans = []
    for k in range(4):
        volume = np.full((1, 24, 24, 24), -1000.0, np.float32)  # air
        volume[0, 4:20, 4:20, 4:20] = rng.normal(40 + 5 * k, 10, (16, 16, 16))  # tissue
        scans.append(volume)
    pre = Preprocessor(intensity="foreground").fit(scans)
    tissue = np.concatenate([s[0, 4:20, 4:20, 4:20].ravel() for s in scans])
    assert pre.mean_[0] == pytest.approx(tissue.mean(), abs=0.5)  # air is not foreground
    low, high = np.percentile(tissue, [0.5, 99.5])
    assert pre.clip_low_[0] == pytest.approx(low - (high - low) / 2, abs=2.0)  # the percentiles, widened
    inside = np.concatenate([pre(scan)[0, 4:20, 4:20, 4:20].ravel() for scan in scans])
    assert abs(float(inside.mean())) < 0.05 and float(inside.std()) == pytest.approx(1.0, abs=0.05)
    # another scanner's air at -3000 HU or a metal streak at +4000 HU saturates at the clip bounds
    other = scans[0].copy()
    other[0, 0, 0, 0], other[0, 0, 0, 1] = -3000.0, 4000.0
    clipped = pre(other)
    assert clipped[0, 0, 0, 0] == pytest.approx((pre.clip_low_[0] - pre.mean_[0]) / pre.std_[0], rel=1e-5)
    assert clipped[0, 0, 0, 1] == pytest.approx((pre.clip_high_[0] - pre.mean_[0]) / pre.std_[0], rel=1e-5)
    restored = Preprocessor.from_dict(pre.to_dict())
    assert np.array_equal(restored(other), clipped)


def test_object_mask_fills_cavities_inside_the_object():
    chest = np.zeros((1, 20, 40, 40), np.float32)
    chest[0, :, 5:35, 5:35] = 1.0  # body cut at the top and bottom of the scan
    chest[0, :, 10:30, 10:18] = 0.0  # a lung: air inside the body, open at both ends in 3D
    mask = object_mask(chest)
    assert mask[:, 5:35, 5:35].all() and not mask[:, :5].any()


def test_preprocessor_never_writes_into_the_callers_array():
    x = np.arange(16, dtype=np.float32).reshape(1, 4, 4)
    before = x.copy()
    Preprocessor(intensity="window", window=(8, 4))(x)
    assert np.array_equal(x, before)


def test_geometry_errors_name_the_value():
    with pytest.raises(ConfigError, match="target spacing must be 3 positive numbers"):
        plan_geometry((4, 4, 4), None, target_spacing=(1.0, -1.0, 1.0))
    with pytest.raises(ShapeError, match="one value per spatial axis"):
        plan_geometry((4, 4, 4), (1.0, 1.0), target_spacing=1.0)
    with pytest.raises(ConfigError, match="spacing must be 2 or 3 positive numbers"):
        Preprocessor(spacing=(0.0, 1.0))
    with pytest.raises(ShapeError, match=r"would have \(20000, 20000, 20000\) voxels.*units"):
        plan_geometry((200, 200, 200), (1.0, 1.0, 1.0), target_spacing=0.01)  # a scan in mm, training in 10 µm
