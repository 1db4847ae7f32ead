"""The --where grammar: parsing, error positions, and a fuzz test that only ExprError ever escapes."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seedlens.hub.errors import ExprError
from seedlens.hub.expr import MAX_DEPTH, And, Comparison, Not, Or, comparisons, parse


def test_parses_comparisons_with_precedence():
    node = parse('species = "wheat" and lot in ("L1", \'L2\') or oil_content >= -1.5e1')
    assert isinstance(node, Or)
    left, right = node.parts
    assert isinstance(left, And)
    first, second = left.parts
    assert (first.field, first.op, first.value.value) == ("species", "=", "wheat")
    assert second.op == "in" and [v.value for v in second.value] == ["L1", "L2"]
    assert (right.field, right.op, right.value.value) == ("oil_content", ">=", -15.0)


def test_keywords_are_case_insensitive_and_parentheses_group():
    node = parse('NOT (tag = "a" OR tag CONTAINS "b") AND germination NOT IN ["dead"]')
    assert isinstance(node, And)
    assert isinstance(node.parts[0], Not) and isinstance(node.parts[0].part, Or)
    assert node.parts[1].op == "not in"
    assert [c.field for c in comparisons(node)] == ["tag", "tag", "germination"]


def test_strings_keep_escapes_and_numbers_keep_their_text():
    c = parse(r'lot = "a\"b\\c" and harvest = 007')
    assert isinstance(c, And)
    assert c.parts[0].value.value == 'a"b\\c'
    assert c.parts[1].value.text == "007" and c.parts[1].value.kind == "num"


def test_null_and_double_equals():
    c = parse("split == null")
    assert isinstance(c, Comparison) and c.op == "=" and c.value.kind == "null"


@pytest.mark.parametrize(
    ("text", "position", "fragment"),
    [
        ("", 0, "empty expression"),
        ('species = "wheat" and', 21, "expected a field name"),
        ('species = wheat', 10, "bare word 'wheat'"),
        ('species = "wheat', 10, "unterminated string"),
        ('(species = "a"', 14, "expected ')'"),
        ('species ~ "a"', 8, "unexpected character"),
        ('species "a"', 8, "expected an operator"),
        ('lot in "a"', 7, "expected a list"),
        ('lot in ("a" "b")', 12, "expected ',' or ')'"),
        ('tag contains 3', 13, "'contains' needs a quoted string"),
        ('lot = 1e999', 6, "out of range"),
        ('lot = "a" )', 10, "unexpected ')'"),
        ('lot ! "a"', 4, "'!' must be followed by '='"),
        ('lot = "a\\q"', 8, "unknown escape"),
    ],
)
def test_errors_point_at_the_problem(text, position, fragment):
    with pytest.raises(ExprError) as info:
        parse(text)
    err = info.value
    assert err.position == position, str(err)
    assert fragment in str(err)
    expr_line, caret_line = err.caret.splitlines()
    assert expr_line == f"  {text}"
    assert caret_line.index("^") == position + 2
    assert f"column {position + 1}" in str(err)


def test_depth_and_size_limits():
    with pytest.raises(ExprError, match="nested too deeply"):
        parse("(" * (MAX_DEPTH + 5) + 'lot = "a"' + ")" * (MAX_DEPTH + 5))
    with pytest.raises(ExprError, match="too long"):
        parse('lot = "' + "a" * 10_000 + '"')
    with pytest.raises(ExprError, match="NUL"):
        parse('lot = "a\x00b"')


TOKENS = st.sampled_from(['species', 'lot', 'oil', 'tag', '=', '!=', '<', '>=', 'in', 'not', 'and', 'or',
                          'contains', '(', ')', '[', ']', ',', '"x"', "'y'", '1', '-2.5', 'null', '"', '\\', '!'])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.text(max_size=60), st.lists(TOKENS, max_size=14).map(" ".join)))
def test_fuzz_only_expr_errors_escape(text):
    try:
        parse(text)
    except ExprError as err:
        assert 0 <= err.position <= len(text)
