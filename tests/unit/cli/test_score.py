"""``seedlens score`` output: ``anomalous`` is score >= threshold, in the JSON lines and the table alike."""

from __future__ import annotations

import json

import numpy as np

from seedlens.cli.score import _print_scores


def test_json_flags_a_score_equal_to_the_threshold(capsys):
    scores = np.array([0.25, 0.5, 0.75], dtype=np.float32)
    _print_scores(list(zip(["low", "equal", "high"], scores.tolist(), strict=True)), float(scores[1]), as_json=True)
    items = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [item["anomalous"] for item in items] == [False, True, True]
    assert [item["path"] for item in items] == ["low", "equal", "high"]


def test_table_flags_a_score_equal_to_the_threshold(capsys):
    _print_scores([("low", 0.25), ("equal", 0.5)], 0.5, as_json=False)
    rows = {line.split()[1]: line for line in capsys.readouterr().out.splitlines() if "low" in line or "equal" in line}
    assert "no" in rows["low"].split() and "yes" in rows["equal"].split()
