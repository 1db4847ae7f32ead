"""The console entry point turns usage errors into one clear message and exit code 2, never a traceback."""

from __future__ import annotations

import pytest

from seedlens.cli.main import main


@pytest.mark.parametrize(("argv", "message"), [
    (["train", "--bogus"], "No such option: --bogus"),
    (["explain"], "Missing argument"),
    (["seeds", "split"], "Missing argument"),
])
def test_usage_errors_are_one_message_and_exit_2(monkeypatch, capsys, argv, message):
    monkeypatch.setattr("sys.argv", ["seedlens", *argv])
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_help_exits_0(monkeypatch, capsys):
    monkeypatch.setattr("sys.argv", ["seedlens", "seeds", "--help"])
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == 0
    assert "split" in capsys.readouterr().out
