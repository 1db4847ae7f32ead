"""Grouped splits: no group straddles two splits, shares follow the ratios, the seed decides."""

from __future__ import annotations

import pytest

from seedlens.errors import ConfigError
from seedlens.hub.schemas import SampleIn
from seedlens.hub.splits import assign_groups, parse_ratios


def test_parse_ratios():
    assert parse_ratios("60,20,20") == pytest.approx([0.6, 0.2, 0.2])
    assert parse_ratios([1, 1]) == [0.5, 0.5]
    for bad in ("a,b", "0,1", "-1,2", ""):
        with pytest.raises(ConfigError):
            parse_ratios(bad)


def test_assignment_follows_ratios_and_seed():
    members = {f"lot{i}": list(range(i * 10, i * 10 + 5 + i % 3)) for i in range(40)}
    ratios, names = [0.6, 0.2, 0.2], ["train", "val", "test"]
    result = assign_groups(members, ratios, names, seed=1)
    total = sum(len(v) for v in members.values())
    for name, ratio in zip(names, ratios, strict=True):
        share = sum(len(members[k]) for k, v in result.items() if v == name) / total
        assert share == pytest.approx(ratio, abs=0.03)
    assert result == assign_groups(members, ratios, names, seed=1)
    assert result != assign_groups(members, ratios, names, seed=2)


def test_no_split_stays_empty_when_groups_allow():
    members = {"a": [1, 2], "b": [3, 4], "c": [5, 6]}
    result = assign_groups(members, [0.6, 0.2, 0.2], ["train", "val", "test"])
    assert sorted(result.values()) == ["test", "train", "val"]


def test_split_by_lot_in_the_catalog(loaded):
    for i in range(6, 30):
        loaded.upsert_sample(f"s{i:03d}", SampleIn(lot=f"L{i // 2}", species="wheat"))
    report = loaded.split("lot", "60,20,20", seed=0)
    samples = loaded.samples()
    by_lot: dict[str, set[str]] = {}
    for sample in samples:
        by_lot.setdefault(sample.lot, set()).add(sample.split)
    assert all(len(splits) == 1 for splits in by_lot.values())
    assert sum(report.samples.values()) == 30 and report.samples["train"] == 18
    assert loaded.count('split = "test"') == report.samples["test"] > 0
    before = [s.split for s in samples]
    loaded.split("lot", "60,20,20", seed=0)
    assert [s.split for s in loaded.samples()] == before


def test_split_by_trait_where_and_missing_values(loaded):
    loaded.upsert_sample("lonely", SampleIn(species="wheat"))
    report = loaded.split("colour", "50,50", where='species = "wheat"')
    assert sum(report.samples.values()) == 5 and sorted(report.samples.values()) == [2, 3]
    splits = {s.sample_id: s.split for s in loaded.samples('species = "wheat"')}
    assert splits["s000"] == splits["s002"] and splits["s001"] == splits["s003"]  # brown / red groups
    assert any("1 sample(s) have no 'colour'" in w for w in report.warnings)
    assert loaded.sample("s004").split is None
    with pytest.raises(ConfigError, match="cannot split by 'tag'"):
        loaded.split("tag", "50,50")
