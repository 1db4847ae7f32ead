"""The multi-modal synthetic seed set: each hidden variable shows in its own modality only, rules, files."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from seedlens.data.synthetic.multimodal import (
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
    return SeedState(damage, maturity, coat, lot, 4.0, "normal", "normal", 45.0, 4.0)


def seed_of(s: SeedState, rng: int = 3):
    return make_multimodal_seed(rng, state=s, ct_size=24, hsi_size=16, bands=16, rgb_size=24)


def test_shapes_dtypes_and_ranges():
    m = make_multimodal_seed(0, ct_size=24, hsi_size=16, bands=12, rgb_size=20)
    assert m.ct.shape == (1, 24, 24, 24) and m.ct.dtype == np.float32
    assert m.hsi.shape == (12, 16, 16) and m.hsi.dtype == np.float32 and 0 <= m.hsi.min() <= m.hsi.max() <= 1
    assert m.wavelengths[0] == pytest.approx(400) and m.wavelengths[-1] == pytest.approx(1000)
    assert m.rgb.shape == (3, 20, 20) and 0 <= m.rgb.min() <= m.rgb.max() <= 1
    assert m.ct_affine.shape == (4, 4) and m.ct_spacing[0] == pytest.approx(2.6 / 24)


def test_damage_shows_in_the_ct_only():
    fractions = [seed_of(state(damage=d)).void_fraction for d in (0.0, 0.2, 0.6, 1.0)]
    assert fractions[0] == 0.0 and fractions == sorted(fractions) and fractions[-1] > 0.07
    intact, damaged = seed_of(state(damage=0.0)), seed_of(state(damage=1.0))
    assert not np.array_equal(intact.ct, damaged.ct)
    np.testing.assert_array_equal(intact.hsi, damaged.hsi)  # same rng: the other modalities do not move
    np.testing.assert_array_equal(intact.rgb, damaged.rgb)


def _dip(m) -> float:
    """Reflectance at 672 nm relative to the mean of 600 and 750 nm, averaged over the seed."""
    wl = m.wavelengths
    band = lambda nm: int(np.argmin(np.abs(wl - nm)))  # noqa: E731
    seed = m.hsi[band(850)] > 0.12
    spectrum = m.hsi[:, seed].mean(axis=1)
    return float(spectrum[band(672)] / spectrum[[band(600), band(750)]].mean())


def test_maturity_shows_in_the_cube_only():
    dips = [_dip(seed_of(state(maturity=m))) for m in (0.0, 0.5, 1.0)]
    assert dips[0] < dips[1] < dips[2]  # immature seeds absorb more at 672 nm
    young, ripe = seed_of(state(maturity=0.0)), seed_of(state(maturity=1.0))
    np.testing.assert_array_equal(young.ct, ripe.ct)
    np.testing.assert_array_equal(young.rgb, ripe.rgb)


def test_coat_condition_shows_in_the_rgb_only():
    mould = [seed_of(state(coat=c)).mould_fraction for c in (1.0, 0.6, 0.2, 0.0)]
    assert mould[0] == 0.0 and mould == sorted(mould) and mould[-1] == pytest.approx(0.4, abs=0.05)
    clean, mouldy = seed_of(state(coat=1.0)), seed_of(state(coat=0.0))
    assert mouldy.rgb.mean() > clean.rgb.mean() + 0.02  # pale patches on a dark seed
    np.testing.assert_array_equal(clean.ct, mouldy.ct)
    np.testing.assert_array_equal(clean.hsi, mouldy.hsi)


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


def test_states_are_seeded_and_traits_follow_the_story():
    a, b = draw_seed_state(5), draw_seed_state(5)
    assert a == b
    states = [draw_seed_state(i) for i in range(3000)]
    maturity = np.array([s.maturity for s in states])
    oil = np.array([s.oil_content for s in states])
    assert np.corrcoef(maturity, oil)[0, 1] > 0.5
    noisy = np.mean([s.germination != s.germination_clean for s in states])
    assert 0.02 < noisy < 0.05  # 5 % relabelled, a third of them to the same class


def test_dataset_files_manifest_and_reproducibility(tmp_path):
    kwargs = dict(n_train=4, n_val=2, n_test=3, ct_size=16, hsi_size=16, bands=8, rgb_size=16)
    manifest = write_multimodal_dataset(tmp_path / "a", seed=0, **kwargs)
    rows = list(csv.DictReader(manifest.open()))
    assert tuple(rows[0]) == MANIFEST_COLUMNS
    assert [r["split"] for r in rows] == ["train"] * 4 + ["val"] * 2 + ["test"] * 3
    assert "damage" not in rows[0] and (manifest.parent / HIDDEN_FILE).is_file()  # the hidden state stays apart
    kinds = {"ct": Modality.VOLUME, "hsi": Modality.CUBE, "rgb": Modality.IMAGE}
    for column, kind in kinds.items():
        _, meta = read(manifest.parent / rows[0][column])
        assert meta.modality is kind, column
    assert read(manifest.parent / rows[0]["hsi"])[1].wavelengths is not None
    again = write_multimodal_dataset(tmp_path / "b", seed=0, **kwargs)
    assert manifest.read_text() == again.read_text()
    other = write_multimodal_dataset(tmp_path / "c", seed=1, **kwargs)
    assert manifest.read_text() != other.read_text()


def test_missing_fraction_leaves_cells_empty_but_never_all_three(tmp_path):
    manifest = write_multimodal_dataset(tmp_path, n_train=30, n_val=0, n_test=0, seed=2, ct_size=16, hsi_size=16,
                                        bands=8, rgb_size=16, missing_fraction=0.6)
    rows = list(csv.DictReader(manifest.open()))
    empty = [[not r[c] for c in ("ct", "hsi", "rgb")] for r in rows]
    assert sum(map(sum, empty)) > 20
    assert not any(all(e) for e in empty)
    for row in rows:
        for column in ("ct", "hsi", "rgb"):
            if row[column]:
                assert (manifest.parent / row[column]).is_file()


def test_bad_arguments_are_named(tmp_path):
    with pytest.raises(ConfigError, match="n_train"):
        write_multimodal_dataset(tmp_path, n_train=-1)
    with pytest.raises(ConfigError, match="at least one sample"):
        write_multimodal_dataset(tmp_path, n_train=0, n_val=0, n_test=0)
    with pytest.raises(ConfigError, match="missing_fraction"):
        write_multimodal_dataset(tmp_path, missing_fraction=1.0)
    with pytest.raises(ConfigError, match="bands"):
        make_multimodal_seed(0, bands=4)


def test_only_fusion_can_reach_the_oracle():
    oracle = oracle_macro_f1(n=20_000)
    single = max(oracle[k] for k in ("ct", "hsi", "rgb", "table"))
    assert oracle["all"] - single > 0.15
