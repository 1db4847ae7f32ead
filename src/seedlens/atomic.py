"""The one way seedlens writes a file atomically: readers see the old file or the new one, never half of one.

:func:`atomic_path` hands out a temporary path in the target's folder (same file system, so the final rename
is atomic); the caller writes it however it likes (bytes, a stream, a library that wants a path); on success
the file is fsynced, given the target's permissions (a new file: 0666 less the umask, as ``open`` would;
``mkstemp`` alone creates 0600) and renamed over the target; on any error it is removed and the target is left
as it was.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


#: Permissions of a new file: what ``open`` would give it (0666 less the umask; ``mkstemp`` alone gives 0600).
FILE_MODE = 0o666 & ~_umask()


@contextlib.contextmanager
def atomic_path(path: str | Path, suffix: str = ".tmp") -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` when the block ends without an error.

    Args:
        path: The file to write; missing parent folders are created.
        suffix: End of the temporary name, for writers that choose the format by suffix (``.tmp.nii.gz``).
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix, dir=target.parent)
    os.close(handle)
    temporary = Path(name)
    try:
        yield temporary
        with open(temporary, "rb+") as written:
            os.fsync(written.fileno())
        temporary.chmod(target.stat().st_mode & 0o7777 if target.exists() else FILE_MODE)
        temporary.replace(target)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise


def atomic_write_bytes(path: str | Path, payload: bytes) -> Path:
    """Write ``payload`` to ``path`` atomically (see :func:`atomic_path`); return the path."""
    with atomic_path(path) as temporary:
        temporary.write_bytes(payload)
    return Path(path)
