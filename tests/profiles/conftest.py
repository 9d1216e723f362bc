"""Fixtures for profile tests: small hand-made bases (the shipped 'style-v1' is trained later) and a
deterministic stand-in for the basis scorer's pair_diffs, so refits need no encoder."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from prefchat.basis import TRAIT_POLES, fingerprint
from prefchat.profiles.profile import new_profile


def write_basis(root: Path, name: str = "test-basis", dims: int = 4, seed: int = 0) -> Path:
    """A basis dir whose basis.json has the fields load_basis reads; the fingerprint depends on seed,
    so two calls with different seeds are 'different bases'."""
    rng = np.random.default_rng(seed)
    d = Path(root) / name
    d.mkdir(parents=True, exist_ok=True)
    axes = []
    for i, (trait, (neg, pos)) in enumerate(list(TRAIT_POLES.items())[:max(2, min(dims, 7))]):
        axes.append({"trait": trait, "neg": neg, "pos": pos,
                     "vector": rng.normal(size=dims).round(6).tolist(),
                     "captured": round(0.55 + 0.05 * i, 2)})
    A = rng.normal(size=(dims, dims))
    meta = {"format": "prefchat.basis", "version": 1, "name": name, "dims": dims,
            "fingerprint": fingerprint(rng.bytes(64), {"kind": "test", "seed": seed, "dims": dims}),
            "axes": axes,
            "prior": {"mean": (0.1 * rng.normal(size=dims)).tolist(),
                      "precision": (A @ A.T / dims + np.eye(dims)).tolist()}}
    (d / "basis.json").write_text(json.dumps(meta), encoding="utf-8")
    return d


def fake_pair_diffs(dims: int, salt: str = ""):
    """phi(x, y) from a hash of (salt, prompt, text) plus a length feature: deterministic, text-dependent,
    and different per salt (i.e. per basis). Returns phi(a) - phi(b), shape (n, dims)."""
    def phi(prompt: str, text: str) -> np.ndarray:
        h = hashlib.sha256(f"{salt}\x00{prompt}\x00{text}".encode("utf-8", "surrogatepass")).digest()
        v = np.frombuffer(h, dtype=np.uint8)[:dims].astype(float) / 255.0 - 0.5
        v = np.resize(v, dims)
        v[0] = len(text) / 50.0
        return v

    def fn(prompts, a_texts, b_texts):
        return np.array([phi(p, a) - phi(p, b) for p, a, b in zip(prompts, a_texts, b_texts)]
                        ).reshape(len(prompts), dims)
    return fn


def make_answers(n: int, seed: int = 0) -> list[dict]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        out.append({"prompt": f"Question {i}: how do I ... ? ünïcode ✓", "a": "short." * int(rng.integers(1, 4)),
                    "b": "A much longer, rambling answer\nwith lines. " * int(rng.integers(1, 4)),
                    "choice": ["a", "b", "tie"][i % 3], "source": ["onboard", "chat"][i % 2],
                    "at": "2026-11-26T21:00:00Z"})
    return out


def make_profile(name: str, basis_dir: Path, n_answers: int = 6, seed: int = 0):
    from prefchat.basis import load_basis

    b = load_basis(basis_dir)
    rng = np.random.default_rng(seed)
    lam = rng.normal(size=b.dims) / 3.0  # awkward floats on purpose: round trips must be bit-exact
    A = rng.normal(size=(b.dims, b.dims))
    return new_profile(name, b.name, b.fingerprint, lam, A @ A.T + np.eye(b.dims),
                       make_answers(n_answers, seed))


@pytest.fixture
def basis_dir(tmp_path) -> Path:
    return write_basis(tmp_path / "models", "test-basis", dims=4, seed=0)


@pytest.fixture
def other_basis_dir(tmp_path) -> Path:
    return write_basis(tmp_path / "models", "other-basis", dims=6, seed=1)


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    h = tmp_path / "home"
    monkeypatch.setenv("PREFCHAT_HOME", str(h))
    return h


@pytest.fixture
def store(home):
    from prefchat.profiles.store import ProfileStore

    return ProfileStore()
