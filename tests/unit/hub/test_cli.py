"""``seedlens hub ...`` through typer's CliRunner on the real app."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from seedlens.cli import main
from seedlens.hub.testing import write_images


@pytest.fixture(scope="module")
def app():
    main._attach_groups()
    return main.app


@pytest.fixture
def run(app):
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(app, ["hub", *args], catch_exceptions=False)

    return invoke


def test_full_cli_flow(run, seeds, tmp_path, isolated_env):
    result = run("init", "--url", str(tmp_path / "hub"))
    assert result.exit_code == 0, result.output
    assert "default hub recorded" in result.output
    assert (isolated_env / "config" / "seedlens" / "hub.yaml").is_file()

    result = run("import", str(seeds["folder"]), "--modality", "image", "--labels", str(seeds["labels"]))
    assert result.exit_code == 0 and "6 sample(s) and 6 acquisition(s) added" in result.stdout
    result = run("import", str(seeds["folder"]), "-m", "image")
    assert "0 sample(s) and 0 acquisition(s) added, 6 already present" in result.stdout

    result = run("ls", "--where", 'oil_content > 43 and tag = "batch2"', "--json")
    assert [s["sample_id"] for s in json.loads(result.stdout)] == ["s003", "s004", "s005"]
    result = run("ls", "--where", 'germination = "abnormal"')
    assert "s000" in result.stdout and "2 of 2 matching" in result.stdout

    result = run("split", "--by", "lot", "--ratios", "60,20,20", "--seed", "3")
    assert result.exit_code == 0 and "split by lot" in result.stdout
    assert run("info").stdout.count("oil_content (num)") == 1

    result = run("token", "create", "--scope", "write", "--name", "ci")
    token = result.stdout.strip()
    assert token.startswith("slh_") and "not shown again" in result.stderr
    assert "ci\twrite\tactive" in run("token", "list").stdout
    assert run("token", "revoke", "ci").exit_code == 0
    assert "ci\twrite\trevoked" in run("token", "list").stdout

    bundle = tmp_path / "b"
    assert run("bundle", "--where", 'lot = "L1"', "--out", str(bundle)).exit_code == 0
    result = run("verify", str(bundle))
    assert result.exit_code == 0 and "OK" in result.stdout
    assert run("verify").exit_code == 0

    other = tmp_path / "other"
    assert run("init", "--url", str(other), "--no-default").exit_code == 0
    result = run("merge", str(bundle), "--hub", str(other))
    assert result.exit_code == 0 and "2 sample(s)" in result.stdout
    assert "0 sample(s)" in run("merge", str(bundle), "--hub", str(other)).stdout

    next(p for p in (bundle / "blobs").rglob("*") if p.is_file()).write_bytes(b"tampered")
    result = run("verify", str(bundle))
    assert result.exit_code == 1 and "problem: blob" in result.stderr and "FAILED" in result.stdout


def test_errors_are_one_clear_message(run, tmp_path):
    assert run("init", "--url", str(tmp_path / "hub")).exit_code == 0
    result = run("ls", "--where", 'specis = "wheat"')
    assert result.exit_code == 2
    assert "unknown field 'specis' (did you mean 'species'?)" in result.stderr
    assert "  specis = \"wheat\"\n  ^^^^^^" in result.stderr
    bad = tmp_path / "bad"
    write_images(bad, 1)
    (bad / "junk.bin").write_bytes(b"\x00\x01")
    result = run("import", str(bad), "--modality", "image")
    assert result.exit_code == 2 and "junk.bin" in result.stderr and "nothing was stored" in result.stderr
    result = run("ls", "--hub", str(tmp_path / "missing"))
    assert result.exit_code == 2 and "no hub at" in result.stderr
    result = run("token", "create", "--scope", "root")
    assert result.exit_code == 2 and "unknown token scope 'root'" in result.stderr


def test_no_default_hub_says_how_to_make_one(run):
    result = run("ls")
    assert result.exit_code == 2 and "seedlens hub init" in result.stderr
