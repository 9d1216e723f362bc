"""Tiny backbones and preference files for the backbone tests (no network)."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np


def write_tiny_qwen(path: Path, seed: int = 0) -> Path:
    """A 2-layer, 32-wide Qwen2 built from a config, with a BPE tokenizer trained in-process and the
    ChatML chat template (prefchat.bench.synthetic.write_random_hf)."""
    from prefchat.bench.synthetic import write_random_hf

    return write_random_hf(path, hidden=32, layers=2, heads=4, kv_heads=2, ffn=64, vocab=300, seed=seed)


WORDS = ["tea", "cat", "keyboard", "water", "leaves", "minutes", "lovely", "day", "joke", "quick", "fox"]


def write_pairwise(path: Path, n_users: int = 6, n_prompts: int = 6, n_resp: int = 4, seed: int = 0) -> Path:
    """Users who like (or dislike) long answers and exclamation marks judge every within-prompt pair."""
    rng = np.random.default_rng(seed)
    lines = []
    w = rng.choice([-1.0, 1.0], size=(n_users, 2))
    for p in range(n_prompts):
        prompt = f"Tell me about {WORDS[p % len(WORDS)]} please?"
        resp = []
        for r in range(n_resp):
            n = 2 + 3 * r
            text = " ".join(rng.choice(WORDS, size=n)) + ("!" if (r + p) % 2 else ".")
            resp.append((text, np.array([n / 5.0, 1.0 if text.endswith("!") else 0.0])))
        for (ta, fa), (tb, fb) in itertools.combinations(resp, 2):
            for u in range(n_users):
                d = w[u] @ (fa - fb)
                lines.append({"user": f"u{u}", "prompt": prompt, "response_a": ta, "response_b": tb,
                              "outcome": "a" if d > 0 else ("b" if d < 0 else "tie")})
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    return path
