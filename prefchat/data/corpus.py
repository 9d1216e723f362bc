"""Reading a corpus file: JSONL, one prompt per line, each with responses and +1/-1/0 trait labels."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from prefchat.errors import PrefchatError
from prefchat.data.pairwise import parse_json_line
from prefchat.paths import shipped_corpus_path

TRAITS = ("length", "formality", "humour", "elicitation", "politeness", "enthusiasm", "confidence")


@dataclass
class Corpus:
    """Flat tables over all responses plus the within-prompt pair table."""

    path: Path
    prompt_ids: list[str]
    prompts: dict[str, str]
    response_ids: list[str]
    response_prompt: np.ndarray  # response row -> prompt index
    texts: list[str]
    traits: np.ndarray  # R x 7 in TRAITS order
    sha256: str

    def __post_init__(self) -> None:
        self._rid = {r: i for i, r in enumerate(self.response_ids)}

    def prompt_text(self, prompt_id: str) -> str:
        return self.prompts[prompt_id]

    def response_row(self, response_id: str) -> int:
        return self._rid[response_id]

    def response_text(self, response_id: str) -> str:
        return self.texts[self._rid[response_id]]

    def pairs(self, prompt_ids: list[str] | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """All within-prompt pairs (a < b) as response rows, with their prompt ids."""
        keep = set(self.prompt_ids if prompt_ids is None else prompt_ids)
        a, b, p = [], [], []
        for pi, pid in enumerate(self.prompt_ids):
            if pid not in keep:
                continue
            rows = np.flatnonzero(self.response_prompt == pi)
            for i in range(len(rows)):
                for j in range(i + 1, len(rows)):
                    a.append(rows[i]), b.append(rows[j]), p.append(pid)
        return np.array(a, dtype=np.int64), np.array(b, dtype=np.int64), np.array(p)


def require_prompts(corpus: Corpus, need: int, what: str) -> Corpus:
    """Refuse a corpus too small for `what` (train / eval split its prompts into a training and a
    held-out part, so one prompt leaves one side empty), naming the file and where it ends."""
    n = len(corpus.prompt_ids)
    if n < need:
        raise PrefchatError(f"{corpus.path}: only {n} prompt{'s' if n != 1 else ''} (one per "
                            f"line); {what} needs at least {need} prompts, because some are held "
                            "out for testing")
    return corpus


def _fail(path: Path, line: int, msg: str) -> PrefchatError:
    return PrefchatError(f"{path}:{line}: {msg}; see the corpus format in docs/DATA.md")


def load_corpus(path: str | Path | None = None) -> Corpus:
    """Load and validate a corpus file. Every problem is reported with the file and line."""
    p = Path(path) if path is not None else shipped_corpus_path()
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise PrefchatError(f"{p}: cannot read corpus ({exc.strerror or exc}); check the path") from None
    prompt_ids: list[str] = []
    prompts: dict[str, str] = {}
    rids: list[str] = []
    rprompt: list[int] = []
    texts: list[str] = []
    traits: list[list[int]] = []
    seen: set[str] = set()
    try:
        lines = raw.decode("utf-8").splitlines()
    except UnicodeDecodeError:
        raise PrefchatError(f"{p}: not UTF-8 text; a corpus is JSONL, one prompt per line") from None
    for ln, line in enumerate(lines, 1):
        if not line.strip():
            continue
        obj = parse_json_line(line, p, ln, "corpus")
        if not isinstance(obj, dict) or not isinstance(obj.get("id"), str) or not isinstance(obj.get("prompt"), str):
            raise _fail(p, ln, "each line needs string fields 'id' and 'prompt'")
        pid = obj["id"]
        if pid in prompts:
            raise _fail(p, ln, f"duplicate prompt id {pid!r}")
        resp = obj.get("responses")
        if not isinstance(resp, list) or len(resp) < 2:
            raise _fail(p, ln, "'responses' must be a list of at least two responses")
        prompts[pid] = obj["prompt"]
        prompt_ids.append(pid)
        for r in resp:
            if not isinstance(r, dict) or not isinstance(r.get("id"), str) or not isinstance(r.get("text"), str):
                raise _fail(p, ln, "each response needs string fields 'id' and 'text'")
            if r["id"] in seen:
                raise _fail(p, ln, f"duplicate response id {r['id']!r}")
            t = r.get("traits")
            if not isinstance(t, dict) or any(t.get(k) not in (-1, 0, 1) or isinstance(t.get(k), bool) for k in TRAITS):
                raise _fail(p, ln, f"response {r['id']!r}: 'traits' needs all of {', '.join(TRAITS)} as +1, -1 or 0")
            seen.add(r["id"])
            rids.append(r["id"])
            rprompt.append(len(prompt_ids) - 1)
            texts.append(r["text"])
            traits.append([int(t[k]) for k in TRAITS])
    if not prompt_ids:
        raise PrefchatError(f"{p}: the corpus is empty")
    return Corpus(p, prompt_ids, prompts, rids, np.array(rprompt), texts, np.array(traits, dtype=np.int64),
                  hashlib.sha256(raw).hexdigest())
