"""File primitives shared by every layer: content hashes (and, after the phase-2 move out of
profiles/store.py, atomic writes and capped reads).

Only the standard library: anything may import this module."""

from __future__ import annotations

import hashlib
import os


def file_sha256(path: str | os.PathLike) -> str:
    """sha256 of a file, read in 1 MiB chunks (weights and datasets can be GBs)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
