"""One reader per source format. Each yields Comparison records for `build`; bad records are a
PrefchatError naming the file and line, never a traceback."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np

from prefchat.fileio import file_sha256
from prefchat.errors import PrefchatError
from prefchat.data.corpus import load_corpus, require_prompts
from prefchat.data.pairwise import Comparison, PairwiseData, build, need_str, read_jsonl
from prefchat.data.users import dense_users, paper_users, simulate

_CHOICE = {"a": 1.0, "b": 0.0, "tie": 0.5, "A": 1.0, "B": 0.0}


def _outcome(v, path: Path, line: int) -> float:
    if isinstance(v, str) and v in _CHOICE:
        return _CHOICE[v]
    if isinstance(v, (int, float)) and not isinstance(v, bool) and v in (0, 0.5, 1):
        return float(v)  # compared before float(): a 400-digit integer must not overflow
    raise PrefchatError(f"{path}:{line}: outcome must be \"a\", \"b\", \"tie\", 1, 0 or 0.5, not {v!r}")


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v) -> bool:
    """A finite JSON number (NaN and Infinity compare as nonsense; bools are not scores)."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return False
    try:  # a JSON integer of thousands of digits does not fit a float: not a usable score either
        return math.isfinite(v)
    except OverflowError:
        return False


def load_pairwise(path: Path) -> PairwiseData:
    """Generic JSONL: {"user", "prompt", "response_a", "response_b", "outcome"} per line
    (aliases: "a"/"b" for the responses, "choice" for the outcome)."""

    def gen():
        for n, o in read_jsonl(path, "pairwise"):
            v = o.get("outcome", o.get("choice"))
            yield Comparison(need_str(o, "user", path, n), need_str(o, "prompt", path, n),
                             need_str(o, "response_a", path, n, "a"), need_str(o, "response_b", path, n, "b"),
                             _outcome(v, path, n))

    return build(gen(), f"pairwise:{path}", file_sha256(path))


def load_psoups(path: Path) -> PairwiseData:
    """P-SOUPS style: {"prompt", "chosen", "rejected", "uid"}; the chosen response is a (outcome 1)."""

    def gen():
        for n, o in read_jsonl(path, "P-SOUPS"):
            yield Comparison(need_str(o, "uid", path, n, "user"), need_str(o, "prompt", path, n),
                             need_str(o, "chosen", path, n), need_str(o, "rejected", path, n), 1.0)

    return build(gen(), f"psoups:{path}", file_sha256(path))


def tldr_prompt(info: dict) -> str:
    """The prompt format of the summarize-from-feedback paper (Stiennon et al. 2020)."""
    body = info.get("post") or info.get("article") or ""
    head = f"SUBREDDIT: r/{info['subreddit']}\n" if info.get("subreddit") else ""
    title = f"TITLE: {info['title']}\n" if info.get("title") else ""
    return f"{head}{title}POST: {body}\n\nTL;DR:"


def load_tldr(path: Path) -> PairwiseData:
    """Reddit TL;DR comparisons (openai/summarize-from-feedback `comparisons/*.json` lines):
    {"info": {"post", "title", "subreddit", ...}, "summaries": [{"text"}, {"text"}], "choice": 0|1,
    "worker": id}. The labeller (worker) is the user."""

    def gen():
        for n, o in read_jsonl(path, "TL;DR comparisons"):
            info, summ, choice = o.get("info"), o.get("summaries"), o.get("choice")
            if not isinstance(info, dict) or not isinstance(info.get("post", info.get("article")), str):
                raise PrefchatError(f"{path}:{n}: 'info' must be an object with a 'post' (or 'article') string")
            if not (isinstance(summ, list) and len(summ) == 2 and all(isinstance(s, dict) and
                                                                       isinstance(s.get("text"), str) for s in summ)):
                raise PrefchatError(f"{path}:{n}: 'summaries' must be two objects with a 'text' string")
            if choice not in (0, 1) or isinstance(choice, bool):
                raise PrefchatError(f"{path}:{n}: 'choice' must be 0 or 1, not {choice!r}")
            yield Comparison(need_str(o, "worker", path, n), tldr_prompt(info), summ[0]["text"].strip(),
                             summ[1]["text"].strip(), 1.0 if choice == 0 else 0.0)

    return build(gen(), f"tldr:{path}", file_sha256(path))


def load_prism(path: Path) -> PairwiseData:
    """PRISM `conversations.jsonl`: per conversation, `user_id` and `conversation_history` items with
    turn, role ("user" | "model"), content, score (1-100), if_chosen and within_turn_id.

    Within each turn every two model responses form a pair; the higher score wins (equal scores are a
    tie). Where scores are missing, the chosen response beats each unchosen one. The prompt is the
    user's message of that turn (earlier turns are not prepended: the within-turn comparison is
    about the responses to that message)."""
    counter = {"skipped": 0}

    def gen():
        for n, o in read_jsonl(path, "PRISM conversations"):
            user = need_str(o, "user_id", path, n)
            hist = o.get("conversation_history")
            if not isinstance(hist, list):
                raise PrefchatError(f"{path}:{n}: 'conversation_history' must be a list")
            turns: dict[int, dict] = {}
            for item in hist:
                if not isinstance(item, dict) or not isinstance(item.get("turn"), int) or \
                        item.get("role") not in ("user", "model") or not isinstance(item.get("content"), str):
                    raise PrefchatError(f"{path}:{n}: each conversation_history item needs an integer 'turn', "
                                        "a 'role' of user or model and a 'content' string")
                t = turns.setdefault(item["turn"], {"prompt": None, "models": []})
                if item["role"] == "user":
                    t["prompt"] = item["content"]
                else:
                    t["models"].append(item)
            for t in turns.values():
                # within_turn_id orders a turn's responses; anything but an integer sorts last
                # (a hostile or odd file must not make sorted() compare str with int).
                models = sorted(t["models"], key=lambda m: (not _is_int(m.get("within_turn_id")),
                                                            m.get("within_turn_id") if _is_int(m.get("within_turn_id")) else 0))
                if t["prompt"] is None or len(models) < 2:
                    counter["skipped"] += 1
                    continue
                for x, y in itertools.combinations(models, 2):
                    sx, sy = x.get("score"), y.get("score")
                    if _is_num(sx) and _is_num(sy):
                        out = 0.5 if sx == sy else float(sx > sy)
                    elif bool(x.get("if_chosen")) != bool(y.get("if_chosen")):
                        out = 1.0 if x.get("if_chosen") else 0.0
                    else:
                        counter["skipped"] += 1
                        continue
                    yield Comparison(user, t["prompt"], x["content"], y["content"], out)

    data = build(gen(), f"prism:{path}", file_sha256(path))
    data.extra["skipped"] += counter["skipped"]
    return data


def load_corpus_users(path: Path | None, seed: int = 0, users: str = "paper") -> PairwiseData:
    """The project's corpus format (docs/FORMATS.md, Corpus) with simulated users: the paper's 84
    two-trait users (or `dense`) judge every within-prompt pair, ties where their rewards are equal."""
    corpus = require_prompts(load_corpus(path), 2, "training on a corpus")
    pop = paper_users() if users == "paper" else dense_users(seed=seed)
    a, b, p = corpus.pairs()
    out = simulate(pop, corpus.traits, a, b, seed=seed)
    prompt_of = [corpus.prompts[corpus.prompt_ids[i]] for i in corpus.response_prompt]

    def gen():
        for u, name in enumerate(pop.names):
            for m in range(len(a)):
                yield Comparison(name, prompt_of[a[m]], corpus.texts[a[m]], corpus.texts[b[m]], float(out[u, m]))

    data = build(gen(), f"corpus:{corpus.path}", corpus.sha256, extra={"corpus": corpus})
    # Corpus responses keep their ids and trait labels (rows are (prompt, text) pairs, which are
    # unique within a corpus, so every corpus response maps to exactly one row).
    rows = {(pr, t): i for i, (pr, t) in enumerate(zip(data.prompts, data.responses))}
    ids = list(data.response_ids)
    traits = np.zeros((len(data.responses), corpus.traits.shape[1]), dtype=corpus.traits.dtype)
    for r, (pi, t) in enumerate(zip(corpus.response_prompt, corpus.texts)):
        i = rows.get((corpus.prompts[corpus.prompt_ids[pi]], t))
        if i is not None:
            ids[i] = corpus.response_ids[r]
            traits[i] = corpus.traits[r]
    data.response_ids = ids
    data.traits = traits
    return data
