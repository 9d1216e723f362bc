"""Every dataset prefchat reads: the style corpus (docs/FORMATS.md, Corpus), its simulated users and
stored split, and the loaders that bring preference datasets into the engine's one pairwise schema
(user, prompt, response a/b, outcome).

Modules: corpus (the style corpus), users (simulated users), splits (the stored train/test split),
reading (words per question), pairwise (the schema and its checks), formats (one reader per source).
Modules inside this package import each other directly, never through this __init__, so it can
re-export them all without a cycle.

    from prefchat.data import load_data
    data = load_data("prism:conversations.jsonl")   # FORMAT:FILE
    data.pairs, data.prefs, data.density

Formats: pairwise (generic JSONL), corpus (this project's corpus with simulated users), prism
(PRISM conversations.jsonl), tldr (Reddit TL;DR comparisons), psoups ({prompt, chosen, rejected, uid}).
numpy only at import time."""

from __future__ import annotations

from pathlib import Path

from prefchat.errors import PrefchatError
from prefchat.data.corpus import TRAITS, Corpus, load_corpus
from prefchat.data.formats import load_corpus_users, load_pairwise, load_prism, load_psoups, load_tldr
from prefchat.data.pairwise import Comparison, PairwiseData, build, check_usable
from prefchat.data.users import KAPPA, SimUsers, dense_users, paper_users, simulate

FORMATS = {
    "pairwise": load_pairwise,
    "corpus": load_corpus_users,
    "prism": load_prism,
    "tldr": load_tldr,
    "psoups": load_psoups,
}

__all__ = ["FORMATS", "Comparison", "PairwiseData", "build", "check_usable", "load_data", "parse_spec",
           "TRAITS", "Corpus", "load_corpus", "KAPPA", "SimUsers", "dense_users", "paper_users", "simulate"]


def parse_spec(spec: str) -> tuple[str, Path]:
    fmt, sep, file = spec.partition(":")
    if not sep or not file:
        raise PrefchatError(f"--data {spec!r}: expected FORMAT:FILE with FORMAT one of {', '.join(FORMATS)}")
    if fmt not in FORMATS:
        raise PrefchatError(f"--data: unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    return fmt, Path(file).expanduser()


def load_data(spec: str, seed: int = 0) -> PairwiseData:
    """Load FORMAT:FILE. For `corpus`, simulated users' outcomes are drawn with `seed`."""
    fmt, path = parse_spec(spec)
    if path.is_dir():
        raise PrefchatError(f"{path}: is a directory, not a {fmt} file (from --data {spec!r}); "
                            "give the file inside it")
    if not path.is_file():
        raise PrefchatError(f"{path}: no such file (from --data {spec!r})")
    if fmt == "corpus":
        return load_corpus_users(path, seed=seed)
    return FORMATS[fmt](path)
