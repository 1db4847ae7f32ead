"""--where semantics against a real catalog: columns, traits, tags, modality, project, null, errors."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seedlens.hub.errors import ExprError
from seedlens.hub.schemas import SampleIn


def ids(hub, where, **kw):
    return [s.sample_id for s in hub.samples(where, **kw)]


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ('species = "wheat"', ["s000", "s001", "s002", "s003"]),
        ('species != "wheat"', ["s004", "s005"]),
        ('lot in ("L0", "L2")', ["s000", "s001", "s004", "s005"]),
        ('lot not in ("L0", "L2")', ["s002", "s003"]),
        ('germination = "abnormal"', ["s000", "s003"]),
        ("oil_content > 43", ["s003", "s004", "s005"]),
        ("oil_content <= 41.5", ["s000", "s001"]),
        ("oil_content in (40.5, 45.5)", ["s000", "s005"]),
        ("oil_content > 41 and oil_content < 44", ["s001", "s002", "s003"]),
        ('oil_content > 41 and colour = "red" and oil_content < 44 and colour contains "e"', ["s001", "s003"]),
        ("oil_content > 41 and oil_content != 42.5 and oil_content < 44", ["s001", "s003"]),
        ('colour = "red"', ["s001", "s003", "s005"]),
        ('colour contains "RE"', ["s001", "s003", "s005"]),
        ('tag = "batch1"', ["s000", "s001", "s002"]),
        ('tag != "batch1"', ["s003", "s004", "s005"]),
        ('tag contains "RAY"', ["s000", "s001", "s002"]),
        ('modality = "image"', ["s000", "s001", "s002", "s003", "s004", "s005"]),
        ('modality = "volume"', []),
        ('project = "default" and sample_id >= "s004"', ["s004", "s005"]),
        ('not (species = "wheat" or lot = "L2")', []),
        ('(species = "wheat" and lot = "L1") or oil_content = 45.5', ["s002", "s003", "s005"]),
        ("split = null", ["s000", "s001", "s002", "s003", "s004", "s005"]),
        ("split != null", []),
        ('lot = "L%"', []),
        ('species contains "%"', []),
    ],
)
def test_filters(loaded, where, expected):
    assert ids(loaded, where) == expected


def test_not_equal_keeps_missing_values_and_null_finds_them(loaded):
    loaded.upsert_sample("extra", SampleIn(species="rye"))
    assert "extra" in ids(loaded, 'lot != "L0"')
    assert ids(loaded, "lot = null") == ["extra"]
    assert ids(loaded, "oil_content = null") == ["extra"]
    assert "extra" in ids(loaded, "oil_content != 40.5")
    assert ids(loaded, 'lot in ("L0", null)') == ["s000", "s001", "extra"]


def test_project_filter_and_count(loaded, seeds):
    loaded.import_dir(seeds["folder"], "image", project="other")
    assert loaded.count() == 12
    assert loaded.count('project = "other"') == 6
    assert loaded.count(project="default") == 6


@pytest.mark.parametrize(
    ("where", "fragment", "position"),
    [
        ('specis = "wheat"', "unknown field 'specis' (did you mean 'species'?)", 0),
        ('oil_content = "high"', "trait 'oil_content' is numeric", 14),
        ('oil_content contains "1"', "'contains' needs a text field", 0),
        ('modality = "voxel"', "unknown modality 'voxel'", 11),
        ("split > null", "null can only be compared", 8),
        ('tag in ("a", null)', "cannot be compared with null", 0),
    ],
)
def test_semantic_errors_point_at_the_field_or_value(loaded, where, fragment, position):
    with pytest.raises(ExprError) as info:
        loaded.samples(where)
    assert fragment in str(info.value)
    assert info.value.position == position
    assert "known fields" in str(info.value) or "unknown field" not in fragment


def test_fields_list_traits_with_kinds(loaded):
    kinds = {f.name: f.kind for f in loaded.fields()}
    assert kinds["oil_content"] == "num" and kinds["colour"] == "text" and kinds["tag"] == "multi"


VALUES = st.one_of(st.integers(-5, 50).map(str), st.sampled_from(['"wheat"', '"L1"', '"%"', '"_"', "null", "'x'"]))
FIELDS = st.sampled_from(["species", "lot", "oil_content", "colour", "tag", "modality", "project", "split", "nope"])
OPS = st.sampled_from(["=", "!=", "<", ">=", "contains", "in", "not in"])


@st.composite
def expressions(draw, depth=0):
    if depth < 2 and draw(st.booleans()):
        joiner = draw(st.sampled_from([" and ", " or "]))
        parts = [draw(expressions(depth + 1)) for _ in range(draw(st.integers(2, 3)))]
        text = joiner.join(parts)
        return f"not ({text})" if draw(st.booleans()) else f"({text})"
    op = draw(OPS)
    if op in ("in", "not in"):
        value = "(" + ", ".join(draw(st.lists(VALUES, min_size=1, max_size=3))) + ")"
    else:
        value = draw(VALUES)
    return f"{draw(FIELDS)} {op} {value}"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(expressions())
def test_fuzz_compiled_queries_run_or_raise_expr_error(loaded, where):
    with contextlib.suppress(ExprError):
        loaded.count(where)
