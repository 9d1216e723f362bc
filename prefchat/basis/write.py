"""The one writer of a basis directory (both `prefchat train` pipelines end here).

The files go in dependency order, each by a temp file and an atomic rename: head.safetensors, then
pool.npz, then basis.json, whose fingerprint covers the head's bytes and the encoder identity. A
directory whose basis.json is readable is therefore complete; an interrupted write leaves either the
previous basis or no basis.json. Extra weights an encoder names (lora.safetensors, backbone/) are
written by its trainer before this, and the identity carries their sha256."""

from __future__ import annotations

import io
import json
import os
from typing import Mapping

import numpy as np

from prefchat.basis.format import FORMAT, FORMAT_VERSION, Pool, fingerprint
from prefchat.fileio import atomic_write
from prefchat.paths import ensure_dir

HEAD_FILE = "head.safetensors"
POOL_FILE = "pool.npz"
META_FILE = "basis.json"


def pool_bytes(pool: Pool) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, prompt_ids=np.asarray(pool.prompt_ids).astype(str), a_ids=np.asarray(pool.a_ids).astype(str),
             b_ids=np.asarray(pool.b_ids).astype(str), diffs=np.asarray(pool.diffs).astype(np.float32))
    return buf.getvalue()


def write_basis(out: str | os.PathLike, meta: dict, head: Mapping, pool: Pool) -> dict:
    """Write head (a {name: tensor} state dict), pool and meta (basis.json's content without the
    fingerprint; meta["encoder"] is the encoder identity) to the directory out. Returns the meta as
    written, fingerprint included."""
    from safetensors.torch import save  # torch: only the trainers call this

    if meta.get("format") != FORMAT or meta.get("version") != FORMAT_VERSION:
        raise ValueError(f"basis meta must carry format {FORMAT!r} version {FORMAT_VERSION}")
    out = ensure_dir(out, mode=0o755)  # a basis is shareable, unlike a profile
    head_bytes = save({k: v.detach().cpu().contiguous() for k, v in head.items()})
    atomic_write(out / HEAD_FILE, head_bytes)
    atomic_write(out / POOL_FILE, pool_bytes(pool))
    meta = {**meta, "fingerprint": fingerprint(head_bytes, meta["encoder"])}
    atomic_write(out / META_FILE, (json.dumps(meta, indent=1) + "\n").encode())
    return meta
