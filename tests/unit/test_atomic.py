"""The one atomic write: the old file survives a failed write, the new one is complete and readable."""

from __future__ import annotations

import stat

import pytest

from seedlens.atomic import FILE_MODE, atomic_path, atomic_write_bytes


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = atomic_write_bytes(tmp_path / "sub" / "report.json", b"old")
    with pytest.raises(RuntimeError, match="disk"), atomic_path(target) as temporary:
        temporary.write_bytes(b"half")
        raise RuntimeError("disk full")
    assert target.read_bytes() == b"old"
    assert [p.name for p in target.parent.iterdir()] == ["report.json"]


def test_a_finished_write_replaces_the_file_and_keeps_its_permissions(tmp_path):
    target = tmp_path / "scan.nii.gz"
    target.write_bytes(b"old")
    target.chmod(0o600)
    with atomic_path(target, suffix=".tmp.nii.gz") as temporary:
        assert temporary.parent == target.parent and temporary.name.endswith(".tmp.nii.gz")
        temporary.write_bytes(b"new")
    assert target.read_bytes() == b"new"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    fresh = atomic_write_bytes(tmp_path / "new.json", b"{}")
    assert stat.S_IMODE(fresh.stat().st_mode) == FILE_MODE != 0o600
