"""File primitives shared by every layer: content hashes, atomic writes and capped reads.

Only the standard library: anything may import this module."""

from __future__ import annotations

import errno
import hashlib
import os
import tempfile
from pathlib import Path

TEMP_PREFIX = "."          # temp files are dotfiles so a directory listing never mistakes them for data
TEMP_SUFFIX = ".tmp"


def file_sha256(path: str | os.PathLike) -> str:
    """sha256 of a file, read in 1 MiB chunks (weights and datasets can be GBs)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def fsync_dir(d: Path) -> None:
    """Make a rename in d durable (the directory entry, not just the file's bytes)."""
    try:
        fd = os.open(d, os.O_RDONLY)
    except OSError:  # e.g. Windows cannot open a directory; the rename is still atomic there
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes, overwrite: bool = True) -> None:
    """Write data to path so that readers and crashes see either the old or the new content.

    overwrite=False fails with FileExistsError if path exists, decided atomically by os.link (no
    window between the check and the write where another process could slip in)."""
    path = Path(path)
    d = path.parent
    fd, tmp = tempfile.mkstemp(dir=d, prefix=f"{TEMP_PREFIX}{path.name}.", suffix=TEMP_SUFFIX)
    try:
        with os.fdopen(fd, "wb") as f:  # mkstemp creates the file with mode 0600
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if overwrite:
            os.replace(tmp, path)
        else:
            try:
                os.link(tmp, path)
            except OSError as exc:
                if exc.errno == errno.EEXIST:
                    raise FileExistsError(str(path)) from None
                # Filesystems without hard links: a check-then-replace is the best we can do.
                if path.exists():
                    raise FileExistsError(str(path)) from None
                os.replace(tmp, path)
            else:
                os.unlink(tmp)
        fsync_dir(d)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def read_capped(path: str | os.PathLike, limit: int) -> bytes:
    """Read at most limit + 1 bytes, so a huge or endless file (/dev/zero) costs nothing and the
    caller can tell "too big" (len > limit) from "fits"."""
    with open(path, "rb") as f:
        return f.read(limit + 1)
