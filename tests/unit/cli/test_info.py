"""``seedlens backbones`` / ``seedlens detectors``: a table (or JSON) of what the registries know about each name."""

from __future__ import annotations

import inspect
import json

import pytest
from typer.testing import CliRunner

from seedlens.cli.main import app
from seedlens.detectors import DETECTORS
from seedlens.detectors.deep import DeepDetector
from seedlens.models import BACKBONES

KINDS = {"image", "volume", "cube"}


def _invoke(*args: str) -> str:
    result = CliRunner().invoke(app, list(args), terminal_width=200, env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return result.output


def _table_rows(output: str) -> dict[str, list[str]]:
    """The cells of each table row by its name (rows whose summary wraps continue on lines with an empty name)."""
    rows: dict[str, list[str]] = {}
    for line in output.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("│").split("│")]
        if len(cells) >= 4 and cells[0] and cells[0] != "name":
            rows[cells[0]] = cells
    return rows


def test_detectors_json_gives_every_registered_detector_with_its_facts():
    items = json.loads(_invoke("detectors", "--json"))
    assert [item["name"] for item in items] == DETECTORS.list()
    for item in items:
        assert set(item) == {"name", "summary", "modalities", "needs_training"}
        assert item["summary"] and "\n" not in item["summary"] and len(item["summary"]) <= 100
        assert item["modalities"] and set(item["modalities"]) <= KINDS
        # a detector needs training exactly when it trains a network (the deep detectors)
        assert item["needs_training"] is issubclass(DETECTORS.get(item["name"]), DeepDetector), item["name"]
    by_name = {item["name"]: item for item in items}
    assert by_name["knn"]["modalities"] == ["image"] and by_name["knn"]["needs_training"] is False
    assert by_name["fcdd"]["modalities"] == ["image", "volume", "cube"] and by_name["fcdd"]["needs_training"] is True
    assert [item["name"] for item in json.loads(_invoke("detectors", "k*", "--json"))] == ["knn"]


def test_detectors_table_shows_modalities_training_and_what_each_is():
    output = _invoke("detectors")
    assert "needs training" in output and "what it is" in output
    rows = _table_rows(output)
    assert sorted(rows) == DETECTORS.list()
    for name, cells in rows.items():
        facts = DETECTORS.facts(name)
        assert cells[1] == ", ".join(facts["modalities"])
        assert cells[2] == ("yes" if facts["needs_training"] else "no")
        assert facts["summary"].startswith(cells[3]), (name, cells[3])  # first line of the (wrapped) summary


def test_backbones_table_and_json_show_modality_and_pretrained():
    items = json.loads(_invoke("backbones", "--json"))
    assert [item["name"] for item in items] == BACKBONES.list()
    for item in items:
        assert set(item) == {"name", "summary", "modality", "pretrained"}
        assert item["modality"] in KINDS and isinstance(item["pretrained"], bool) and item["summary"]
    by_name = {item["name"]: item for item in items}
    assert by_name["fcdd3d"]["modality"] == "volume" and by_name["spectral"]["modality"] == "cube"
    assert by_name["efficientnet_lite0"]["pretrained"] is True and by_name["fcdd32"]["pretrained"] is False
    rows = _table_rows(_invoke("backbones"))
    assert sorted(rows) == BACKBONES.list()
    assert rows["efficientnet_lite0"][1:3] == ["image", "yes"] and rows["fcdd3d"][1:3] == ["volume", "no"]
    assert "(seedlens[pretrained])" in _invoke("backbones", "efficientnet_lite0")  # printed as text, not markup


def test_a_pattern_matching_nothing_says_so():
    result = CliRunner().invoke(app, ["backbones", "nothing*"])
    assert result.exit_code == 0 and "no backbone matches 'nothing*'" in result.output


@pytest.mark.parametrize("name", BACKBONES.list())
def test_registered_backbone_facts_are_what_the_backbone_is(name):
    factory = BACKBONES.get(name)
    facts = BACKBONES.facts(name)
    default = inspect.signature(factory).parameters.get("pretrained")
    assert facts["pretrained"] is (default is not None and default.default is True)
    options = {"in_channels": 3}
    if default is not None:
        pytest.importorskip("efficientnet_lite_pytorch")
        options["pretrained"] = False  # the same network, no weights to load
    assert BACKBONES.create(name, **options).modality.value == facts["modality"]


def test_registry_facts_default_to_the_docstrings_first_sentence_and_unknown_names_fail():
    from seedlens.errors import UnknownNameError
    from seedlens.registry import Registry

    things: Registry[object] = Registry("thing")

    @things.register("Plain")
    class Plain:
        """A plain thing. More about it.

        Details.
        """

    things.register("told", summary="what it is", legs=4)(dict)
    assert things.facts("plain") == {"name": "plain", "summary": "A plain thing"}
    assert things.facts("TOLD") == {"name": "told", "summary": "what it is", "legs": 4}
    with pytest.raises(UnknownNameError, match="unknown thing 'tld'"):
        things.facts("tld")
