"""The multi-modal synthetic seed set: each hidden variable shows in its own modality only, rules, files."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from scipy import ndimage

from seedlens.data.synthetic import MultiModalSeed
from seedlens.data.synthetic.multimodal import (
    DEFECT_FRACTION,
    HIDDEN_COLUMNS,
    HIDDEN_FILE,
    MANIFEST_COLUMNS,
    SeedState,
    draw_seed_state,
    germination_rule,
    make_multimodal_seed,
    oracle_macro_f1,
    write_multimodal_dataset,
)
from seedlens.errors import ConfigError
from seedlens.io import read
from seedlens.types import Modality


def state(damage=0.0, maturity=0.9, coat=0.9, lot="L2"):
    return SeedState(damage, maturity, coat, lot)


def seed_of(s: SeedState, rng: int = 3) -> MultiModalSeed:
    return make_multimodal_seed(rng, state=s, ct_size=24, hsi_size=16, bands=16, rgb_size=24)


def test_shapes_dtypes_and_ranges():
    m = make_multimodal_seed(0, ct_size=24, hsi_size=16, bands=12, rgb_size=20)
    assert m.ct.shape == (1, 24, 24, 24) and m.ct.dtype == np.float32
    assert m.hsi.shape == (12, 16, 16) and m.hsi.dtype == np.float32 and 0 <= m.hsi.min() <= m.hsi.max() <= 1
    assert m.wavelengths.shape == (12,) and m.wavelengths.dtype == np.float32
    assert m.wavelengths[0] == pytest.approx(400) and m.wavelengths[-1] == pytest.approx(1000)
    assert m.rgb.shape == (3, 20, 20) and m.rgb.dtype == np.float32 and 0 <= m.rgb.min() <= m.rgb.max() <= 1
    assert m.ct_affine.shape == (4, 4) and m.ct_spacing == pytest.approx((2.6 / 24,) * 3)
    np.testing.assert_allclose(m.ct_affine @ [11.5, 11.5, 11.5, 1], [0, 0, 0, 1], atol=1e-9)  # centred


def test_seeds_are_reproducible():
    a, b, c = (make_multimodal_seed(r, ct_size=16) for r in (4, 4, 5))
    assert a.state == b.state
    for name in ("ct", "hsi", "rgb"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
        assert not np.array_equal(getattr(a, name), getattr(c, name))


def _air_inside(ct: np.ndarray, seed: np.ndarray) -> float:
    return float(((ct[0] < 0.25) & seed).sum() / seed.sum())


def test_damage_shows_in_the_ct_only():
    damages = (0.0, 0.2, 0.6, 1.0)
    seeds = [seed_of(state(damage=d)) for d in damages]
    fractions = [s.defect_fraction for s in seeds]
    targets = [DEFECT_FRACTION[0] + DEFECT_FRACTION[1] * d for d in damages[1:]]
    assert fractions[0] == 0.0 and fractions == sorted(fractions)
    np.testing.assert_allclose(fractions[1:], targets, rtol=0.12)  # ± 8 %, at least 1.5 voxels at 24³
    # measured in the image: air inside the intact seed's outline (same anatomy: the streams are separate)
    outline = ndimage.binary_fill_holes(ndimage.gaussian_filter(seeds[0].ct[0], 1.0) > 0.3)
    air = [_air_inside(s.ct, outline) for s in seeds]
    assert air == sorted(air) and air[-1] - air[0] > 0.08
    for other in seeds[1:]:
        np.testing.assert_array_equal(seeds[0].hsi, other.hsi)
        np.testing.assert_array_equal(seeds[0].rgb, other.rgb)


def test_defect_fraction_follows_damage_over_many_seeds():
    for damage in (0.1, 0.5, 0.9):
        target = DEFECT_FRACTION[0] + DEFECT_FRACTION[1] * damage
        fractions = [make_multimodal_seed(r, state=state(damage=damage), ct_size=32).defect_fraction for r in range(4)]
        np.testing.assert_allclose(fractions, target, rtol=0.081)


def _dip(m: MultiModalSeed) -> float:
    """Reflectance at 672 nm relative to 750 nm, averaged over the seed."""
    wl = m.wavelengths
    band = lambda nm: int(np.argmin(np.abs(wl - nm)))  # noqa: E731
    seed = m.hsi[band(850)] > 0.12
    spectrum = m.hsi[:, seed].mean(axis=1)
    return float(spectrum[band(672)] / spectrum[band(750)])


def test_maturity_shows_in_the_cube_only():
    seeds = [seed_of(state(maturity=m)) for m in (0.0, 0.5, 1.0)]
    dips = [_dip(s) for s in seeds]
    assert dips[0] < dips[1] < dips[2]  # immature seeds absorb more at 672 nm
    assert dips[2] - dips[0] > 0.05
    for other in seeds[1:]:
        np.testing.assert_array_equal(seeds[0].ct, other.ct)
        np.testing.assert_array_equal(seeds[0].rgb, other.rgb)


def test_coat_condition_shows_in_the_rgb_only():
    seeds = [seed_of(state(coat=c)) for c in (1.0, 0.6, 0.2, 0.0)]
    patches = [s.patch_fraction for s in seeds]
    assert patches[0] == 0.0 and patches == sorted(patches) and patches[-1] == pytest.approx(0.4, abs=0.05)
    seed = seeds[0].rgb.mean(axis=0) < 0.4  # a dark seed on a light tray (same scene for every coat)
    bright = [float((s.rgb.mean(axis=0)[seed] > 0.35).mean()) for s in seeds]
    assert bright[0] < 0.05 and bright == sorted(bright) and bright[-1] > 0.25
    for other in seeds[1:]:
        np.testing.assert_array_equal(seeds[0].ct, other.ct)
        np.testing.assert_array_equal(seeds[0].hsi, other.hsi)


@pytest.mark.parametrize(
    ("damage", "maturity", "coat", "expected"),
    [
        (0.0, 0.9, 0.9, "normal"),
        (0.8, 0.9, 0.9, "dead"),  # severe damage
        (0.0, 0.3, 0.3, "dead"),  # immature and a poor coat: the cross-modal interaction
        (0.0, 0.3, 0.9, "normal"),  # either alone is harmless
        (0.0, 0.9, 0.3, "normal"),
        (0.5, 0.9, 0.9, "abnormal"),  # moderate damage
        (0.3, 0.3, 0.9, "abnormal"),  # mild damage with low maturity
        (0.3, 0.9, 0.9, "normal"),
    ],
)
def test_germination_rule(damage, maturity, coat, expected):
    assert germination_rule(damage, maturity, coat) == expected
    assert state(damage, maturity, coat).germination == expected  # derived without noise when not given


def test_seed_state_derives_traits_and_checks_values():
    s = SeedState(0.5, 1.0, 0.2, "L4")
    assert s.weight == s.thousand_seed_weight == pytest.approx(4.0 + 0.6 + 1.2 - 0.4)
    assert s.oil_content == pytest.approx(42 + 6 - 2 + 1.5)
    with pytest.raises(ConfigError, match="damage"):
        SeedState(1.5, 0.5, 0.5)
    with pytest.raises(ConfigError, match="lot"):
        SeedState(0.5, 0.5, 0.5, "L9")


def test_states_are_seeded_and_traits_follow_the_story():
    a, b = draw_seed_state(5), draw_seed_state(5)
    assert a == b
    states = [draw_seed_state(i) for i in range(3000)]
    maturity = np.array([s.maturity for s in states])
    oil = np.array([s.oil_content for s in states])
    assert np.corrcoef(maturity, oil)[0, 1] > 0.5
    assert np.mean([s.damage == 0 for s in states]) == pytest.approx(0.5, abs=0.04)
    noisy = np.mean([s.germination != s.germination_clean for s in states])
    assert 0.02 < noisy < 0.05  # 5 % relabelled, a third of them to the same class


def test_dataset_files_manifest_and_reproducibility(tmp_path):
    kwargs = dict(n_train=4, n_val=2, n_test=3, ct_size=16, hsi_size=16, bands=8, rgb_size=16)
    manifest = write_multimodal_dataset(tmp_path / "a", seed=0, **kwargs)
    rows = list(csv.DictReader(manifest.open()))
    assert tuple(rows[0]) == MANIFEST_COLUMNS
    assert [r["sample_id"] for r in rows] == [f"S{i:05d}" for i in range(9)]
    assert [r["split"] for r in rows] == ["train"] * 4 + ["val"] * 2 + ["test"] * 3
    assert rows[0]["ct"] == "ct/S00000.nii.gz" and rows[0]["hsi"] == "hsi/S00000.hdr"
    assert rows[0]["rgb"] == "rgb/S00000.png" and (manifest.parent / "hsi" / "S00000.img").is_file()
    hidden = list(csv.DictReader((manifest.parent / HIDDEN_FILE).open()))
    assert tuple(hidden[0]) == HIDDEN_COLUMNS and "damage" not in rows[0]  # the hidden state stays apart
    kinds = {"ct": (Modality.VOLUME, (1, 16, 16, 16)), "hsi": (Modality.CUBE, (8, 16, 16)),
             "rgb": (Modality.IMAGE, (3, 16, 16))}  # fmt: skip
    for column, (kind, shape) in kinds.items():
        array, meta = read(manifest.parent / rows[0][column])
        assert meta.modality is kind and array.shape == shape, column
    assert read(manifest.parent / rows[0]["hsi"])[1].wavelengths is not None
    again = write_multimodal_dataset(tmp_path / "b", seed=0, **kwargs)
    assert manifest.read_text() == again.read_text()
    for name in ("ct/S00003.nii.gz", "hsi/S00003.img", "rgb/S00003.png"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    other = write_multimodal_dataset(tmp_path / "c", seed=1, **kwargs)
    assert manifest.read_text() != other.read_text()


def test_missing_fraction_leaves_cells_empty_but_never_all_three(tmp_path):
    manifest = write_multimodal_dataset(tmp_path, n_train=30, n_val=0, n_test=0, seed=2, ct_size=16, hsi_size=16,
                                        bands=8, rgb_size=16, missing_fraction=0.6)  # fmt: skip
    rows = list(csv.DictReader(manifest.open()))
    empty = [[not r[c] for c in ("ct", "hsi", "rgb")] for r in rows]
    assert sum(map(sum, empty)) > 20
    assert not any(all(e) for e in empty)
    for row in rows:
        for column, suffix in (("ct", ".nii.gz"), ("hsi", ".hdr"), ("rgb", ".png")):
            path = tmp_path / column / f"{row['sample_id']}{suffix}"
            assert path.is_file() == bool(row[column])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_train": -1}, "n_train"),
        ({"n_val": 1.5}, "n_val"),
        ({"n_train": 0, "n_val": 0, "n_test": 0}, "at least one sample"),
        ({"missing_fraction": 1.0}, "missing_fraction"),
        ({"missing_fraction": "0.1"}, "missing_fraction"),
        ({"seed": -3}, "seed"),
        ({"ct_size": 8}, "ct_size"),
        ({"bands": 4}, "bands"),
    ],
)
def test_bad_arguments_are_named(tmp_path, kwargs, match):
    with pytest.raises(ConfigError, match=match):
        write_multimodal_dataset(tmp_path, **kwargs)
    assert not (tmp_path / "manifest.csv").exists()


def test_bad_sizes_of_one_seed_are_named():
    with pytest.raises(ConfigError, match="rgb_size"):
        make_multimodal_seed(0, rgb_size=True)


def test_only_fusion_can_reach_the_oracle():
    oracle = oracle_macro_f1(n=20_000)
    assert set(oracle) == {"ct", "hsi", "rgb", "table", "all"}
    single = max(oracle[k] for k in ("ct", "hsi", "rgb", "table"))
    assert oracle["all"] - single > 0.15
