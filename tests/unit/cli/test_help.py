"""Every ``seedlens ... --help``: a usage line ``[OPTIONS] RUN [PATHS]...``, no ``<bool>`` and no ``{run}`` anywhere."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from seedlens.cli.main import _attach_groups, app

#: An argument in a usage line: ``NAME``, ``[NAME]``, either with ``...``.
ARGUMENT = r"(?:[A-Z][A-Z0-9_]*|\[[A-Z][A-Z0-9_]*\])(?:\.\.\.)?"
USAGE = re.compile(rf"^Usage: seedlens(?: [a-z][a-z-]*)* \[OPTIONS\](?: {ARGUMENT})*(?: COMMAND \[ARGS\]\.\.\.)?$")


def _walk(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    yield path, command
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        yield from _walk(sub, (*path, name))


def _commands() -> list[tuple[tuple[str, ...], Any]]:
    _attach_groups()
    return list(_walk(typer.main.get_command(app)))


COMMANDS = _commands()


def test_the_walk_reaches_every_command_and_group():
    paths = {" ".join(path) for path, _ in COMMANDS}
    assert {"", "train", "score", "explain", "demo", "detectors", "hub", "hub import", "hub token create",
            "fusion train", "seeds split"} <= paths
    assert len(paths) >= 30


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[" ".join(p) or "seedlens" for p, _ in COMMANDS])
def test_help_has_a_plain_usage_line_and_no_placeholders(path, command):
    result = CliRunner().invoke(app, [*path, "--help"], terminal_width=200, env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    text = result.output
    usage = next(line.strip() for line in text.splitlines() if "Usage:" in line)
    assert USAGE.match(usage), usage
    assert "<bool>" not in text, text
    braces = re.findall(r"\{[^{}\s]*\}", text)
    assert not braces, (braces, text)
    ctx = command.context_class(command, info_name=path[-1] if path else "seedlens")
    assert USAGE.match(f"Usage: {' '.join(('seedlens', *path))} {' '.join(command.collect_usage_pieces(ctx))}")
    for param in command.get_params(ctx):  # the plain (non-rich) help: a flag takes no value to name
        record = param.get_help_record(ctx)
        if getattr(param, "is_flag", False) and record is not None:
            assert not re.search(r"<\w+>", record[0]), record
