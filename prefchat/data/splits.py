"""The fixed four-way split (paper protocol), stored next to the corpus so every tool agrees.

prompts: train vs held-out; users: train vs new. Train users on train prompts train the basis;
train users on held-out prompts validate it; new users on train prompts calibrate their lambda; new
users on held-out prompts test it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from prefchat.data.corpus import Corpus
from prefchat.data.users import SimUsers, dense_users, paper_users
from prefchat.errors import PrefchatError

SPLIT_SEED = 2026


@dataclass(frozen=True)
class Split:
    train_prompts: list[str]
    heldout_prompts: list[str]
    train_users: dict[str, list[int]]  # population -> user indices
    new_users: dict[str, list[int]]
    dense: dict  # {"n": ..., "seed": ...}

    def population(self, name: str) -> SimUsers:
        if name == "paper":
            return paper_users()
        if name == "dense":
            return dense_users(self.dense["n"], self.dense["seed"])
        raise PrefchatError(f"unknown user population {name!r}; use 'paper' or 'dense'")


def split_path(corpus_path: Path) -> Path:
    return corpus_path.with_name(corpus_path.name.replace(".jsonl", "") + ".split.json")


def make_split(corpus: Corpus, heldout_fraction: float = 0.3, new_user_fraction: float = 0.3,
               seed: int = SPLIT_SEED, dense_n: int = 100) -> Split:
    rng = np.random.default_rng(seed)
    pids = list(corpus.prompt_ids)
    order = rng.permutation(len(pids))
    n_held = max(1, int(round(heldout_fraction * len(pids))))
    held = sorted(pids[i] for i in order[:n_held])
    train = sorted(pids[i] for i in order[n_held:])
    tu, nu = {}, {}
    for name, n in (("paper", len(paper_users())), ("dense", dense_n)):
        perm = rng.permutation(n)
        k = int(round(new_user_fraction * n))
        nu[name] = sorted(int(i) for i in perm[:k])
        tu[name] = sorted(int(i) for i in perm[k:])
    return Split(train, held, tu, nu, {"n": dense_n, "seed": seed})


def save_split(split: Split, path: Path) -> None:
    path.write_text(json.dumps({"seed": split.dense["seed"], "prompts": {"train": split.train_prompts,
                                "heldout": split.heldout_prompts},
                                "users": {"train": split.train_users, "new": split.new_users},
                                "dense": split.dense}, indent=1) + "\n")


def load_split(corpus: Corpus) -> Split | None:
    """The split stored beside the corpus file, or None when there is none."""
    p = split_path(corpus.path)
    if not p.is_file():
        return None
    try:
        d = json.loads(p.read_text(encoding="utf-8"))
        s = Split(d["prompts"]["train"], d["prompts"]["heldout"], d["users"]["train"], d["users"]["new"],
                  d["dense"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise PrefchatError(f"{p}: unreadable split file ({exc}); delete it to fall back to a fresh split") from None
    missing = set(s.train_prompts + s.heldout_prompts) ^ set(corpus.prompt_ids)
    if missing:
        raise PrefchatError(f"{p}: split does not match {corpus.path.name} ({len(missing)} prompt ids differ)")
    return s
