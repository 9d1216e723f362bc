"""Fixtures for the onboarding quiz: a small corpus and a basis derived from its trait labels.

The shipped basis (models/style-v1) is trained later, so these tests build their own. The basis is
built so the preference check is meaningful, not circular by accident:

    phi(x, y) = M t(y)          t(y): the response's 7 trait labels (+1/-1/0) from the corpus
                                M: a random 8x7 matrix with orthonormal columns (a rotation into J=8)
    pool diffs = phi(a) - phi(b) for every within-prompt pair
    axis for trait i = M[:, i]  so axis_i . lambda = (M^T lambda)_i = the weight lambda puts on trait i

A person who rewards responses by their traits (r(y) = w . t(y)) is then representable exactly
(lambda = M w), and the named axes of a fitted lambda read back w, but only if the quiz asks
informative questions, maps A/B (including flipped display order) to the right outcome sign, and
refits after every answer. The rotation M makes sure nothing works just because axes are unit vectors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from prefchat.basis import TRAIT_POLES, fingerprint
from prefchat.data.corpus import TRAITS

J = 8
FILLER = ("This part goes into more detail, with background, caveats and a worked example so that "
          "the response runs long enough to need scrolling in a small terminal window.")
WORDS = {  # a few words per trait pole so responses read differently in screenshots
    "formality": ("hey, so", "Dear user,"), "humour": ("Plainly:", "Ha! Fun one:"),
    "elicitation": ("", "What do you think?"), "politeness": ("Obviously.", "Thank you for asking."),
    "enthusiasm": ("Fine.", "Wow, great question!"), "confidence": ("I think, maybe,", "Definitely:"),
}


def write_corpus(path: Path, n_prompts: int = 30, n_resp: int = 4, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    lines = []
    for p in range(n_prompts):
        resp = []
        for r in range(n_resp):
            t = {k: int(rng.choice([-1, 0, 1])) for k in TRAITS}
            bits = [WORDS[k][(t[k] + 1) // 2] if t[k] else "" for k in WORDS]
            body = " ".join(b for b in bits if b) + f" Answer {r + 1} to question {p + 1}."
            if t["length"] == 1:
                body += "\n" + "\n".join(f"{i + 1}. {FILLER}" for i in range(8))
            resp.append({"id": f"p{p:03d}-r{r}", "text": body.strip(), "traits": t})
        lines.append(json.dumps({"id": f"p{p:03d}", "prompt": f"Question {p + 1}: how do I do thing "
                                 f"number {p + 1} [with brackets]?", "responses": resp}))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_trait_basis(root: Path, corpus_path: Path, name: str = "trait-basis", seed: int = 1) -> Path:
    from prefchat.data.corpus import load_corpus

    c = load_corpus(corpus_path)
    rng = np.random.default_rng(seed)
    M, _ = np.linalg.qr(rng.normal(size=(J, len(TRAITS))))  # J x 7, orthonormal columns
    phi = c.traits.astype(float) @ M.T                          # R x J
    a, b, p = c.pairs()
    d = root / name
    d.mkdir(parents=True, exist_ok=True)
    np.savez(d / "pool.npz", prompt_ids=np.array(p, dtype=str),
             a_ids=np.array([c.response_ids[i] for i in a], dtype=str),
             b_ids=np.array([c.response_ids[i] for i in b], dtype=str),
             diffs=(phi[a] - phi[b]).astype(np.float32))
    axes = [{"trait": t, "neg": TRAIT_POLES[t][0], "pos": TRAIT_POLES[t][1],
             "vector": M[:, i].tolist(), "captured": 1.0} for i, t in enumerate(TRAITS)]
    meta = {"format": "prefchat.basis", "version": 1, "name": name, "dims": J,
            "fingerprint": fingerprint(M.tobytes(), {"kind": "trait-test", "seed": seed}),
            "axes": axes, "prior": {"mean": [0.0] * J, "precision": np.eye(J).tolist()}}
    (d / "basis.json").write_text(json.dumps(meta), encoding="utf-8")
    return d


@pytest.fixture
def quiz_env(tmp_path, monkeypatch):
    """corpus file, basis dir and an empty PREFCHAT_HOME; env vars set so defaults find them."""
    corpus = write_corpus(tmp_path / "corpus.jsonl")
    basis = write_trait_basis(tmp_path / "models", corpus)
    home = tmp_path / "home"
    monkeypatch.setenv("PREFCHAT_HOME", str(home))
    monkeypatch.setenv("PREFCHAT_BASIS", str(basis))
    return {"corpus": corpus, "basis": basis, "home": home, "tmp": tmp_path}


def open_quiz(env, **kw):
    from prefchat.onboarding.quiz import open_session

    kw.setdefault("seed", 7)
    return open_session(basis=env["basis"], corpus=env["corpus"], **kw)


def read_profile(env, name: str = "me") -> dict:
    return json.loads((env["home"] / "profiles" / f"{name}.json").read_text(encoding="utf-8"))


# live questions (test_live.py, test_live_tui.py): a real tiny GGUF, and a home with no model settings
@pytest.fixture(scope="module")
def tiny_gguf(tmp_path_factory):
    from tests.llm.tiny_models import write_tiny_gguf

    return write_tiny_gguf(tmp_path_factory.mktemp("gguf") / "tiny.gguf")


@pytest.fixture
def home(tmp_path, monkeypatch):
    for v in ("PREFCHAT_BACKEND", "PREFCHAT_MODEL", "PREFCHAT_BASE_URL", "PREFCHAT_BASIS", "PREFCHAT_N"):
        monkeypatch.delenv(v, raising=False)
    monkeypatch.setenv("PREFCHAT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PREFCHAT_CONFIG", str(tmp_path / "config.toml"))
    return tmp_path / "home"
