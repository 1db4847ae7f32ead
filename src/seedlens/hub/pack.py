"""Deterministic tar packs for multi-file forms, and their safe extraction.

A pack holds the files of one acquisition that only make sense together (a DICOM series folder,
an ENVI header and its data file, an MHD/NHDR header and its raw file). Members are sorted, with
zeroed times, owners and fixed modes, so the same content always gives the same bytes and the
same sha256. Extraction refuses members that are not plain files or that would leave the target.
"""

from __future__ import annotations

import io
import os
import shutil
import tarfile
import uuid
from collections.abc import Iterable
from pathlib import Path

from seedlens.hub.errors import InvalidNameError
from seedlens.hub.names import check_member_path


def write_pack(members: Iterable[tuple[str, Path | bytes]], dest: Path) -> Path:
    """Write a deterministic uncompressed tar of ``(name, file path or bytes)`` to ``dest``."""
    items = sorted(members, key=lambda item: item[0])
    names = [check_member_path(name) for name, _ in items]
    if len(set(names)) != len(names):
        raise InvalidNameError(f"duplicate member names in pack: {names}")
    with open(dest, "wb") as raw, tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, (_, content) in zip(names, items, strict=True):
            info = tarfile.TarInfo(name)
            info.mtime = 0
            info.mode = 0o644
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            if isinstance(content, bytes):
                info.size = len(content)
                tar.addfile(info, io.BytesIO(content))
            else:
                info.size = content.stat().st_size
                with open(content, "rb") as handle:
                    tar.addfile(info, handle)
        raw.flush()
        os.fsync(raw.fileno())
    return dest


def extract_pack(pack: Path, dest: Path) -> Path:
    """Extract a pack into the folder ``dest`` atomically (temp folder + rename).

    Raises:
        InvalidNameError: a member is a link, device or folder escape (path traversal).
        tarfile.TarError: the archive is corrupt.
    """
    if dest.exists():
        return dest
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.part")
    tmp.mkdir(parents=True)
    try:
        with tarfile.open(pack, mode="r:") as tar:
            for member in tar:
                safe_extract_member(tar, member, tmp)
        try:
            tmp.rename(dest)
        except OSError:
            if not dest.exists():
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return dest


def safe_extract_member(tar: tarfile.TarFile, member: tarfile.TarInfo, root: Path) -> Path | None:
    """Extract one member below ``root`` if it is a plain file or folder with a safe name.

    Raises:
        InvalidNameError: the member is a link/device or its name escapes ``root``.
    """
    name = check_member_path(member.name)
    target = root / name
    resolved_root = root.resolve()
    if resolved_root not in target.resolve().parents:
        raise InvalidNameError(f"archive member {member.name!r} escapes its folder")
    if member.isdir():
        target.mkdir(parents=True, exist_ok=True)
        return None
    if not member.isfile():
        raise InvalidNameError(f"archive member {member.name!r} is not a regular file (links are not allowed)")
    target.parent.mkdir(parents=True, exist_ok=True)
    source = tar.extractfile(member)
    assert source is not None
    with source, open(target, "wb") as out:
        shutil.copyfileobj(source, out, 1024 * 1024)
    return target
