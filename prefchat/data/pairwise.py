"""The engine's pairwise schema and the checks every source passes through.

Every loader turns its source into `Comparison(user, prompt, a, b, outcome)` records; `build` turns
those into the engine's tables:

* a response table (one row per distinct (prompt, response text)),
* a PairTable (one column per distinct unordered pair of rows of one prompt),
* Preferences (user, pair, outcome), outcome 1 = a preferred, 0 = b preferred, 0.5 = tie.

Pairs are stored in a canonical orientation (lower row first, outcome flipped when swapped) so two
users who judged the same two responses in opposite display orders land in the same column: that
shared column is the "overlap" the SVD initialisation completes the matrix from.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

import numpy as np

from prefchat.errors import PrefchatError
from prefchat.reward.data import PairTable, Preferences


@dataclass(frozen=True)
class Comparison:
    user: str
    prompt: str
    a: str
    b: str
    outcome: float  # 1.0: a preferred, 0.0: b preferred, 0.5: tie


@dataclass
class PairwiseData:
    """A source in the engine's schema. `pairs`/`prefs` index `prompts`/`responses` rows."""

    source: str
    sha256: str
    users: list[str]
    prompts: list[str]  # per response row: the prompt it answers
    responses: list[str]  # per response row: the response text
    response_ids: list[str]
    pairs: Any  # PairTable
    prefs: Any  # Preferences
    traits: np.ndarray | None = None  # R x 7 trait labels, only for the project's corpus format
    extra: dict = field(default_factory=dict)

    @property
    def density(self) -> float:
        return float(self.prefs.density)

    def summary(self) -> dict:
        per_pair = np.bincount(self.prefs.pair, minlength=self.prefs.n_pairs)
        return {"source": self.source, "users": self.prefs.n_users, "pairs": self.prefs.n_pairs,
                "responses": len(self.responses), "prompts": len(set(self.pairs.prompt_ids.tolist())),
                "observations": len(self.prefs), "density": self.density,
                "pairs_seen_by_2plus_users": int(np.sum(_users_per_pair(self.prefs) >= 2)),
                "max_obs_per_pair": int(per_pair.max()) if per_pair.size else 0}


def _users_per_pair(prefs) -> np.ndarray:
    cells = np.unique(prefs.user * prefs.n_pairs + prefs.pair)
    return np.bincount(cells % prefs.n_pairs, minlength=prefs.n_pairs)



_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def parse_json_line(raw: bytes | str, path: Path, n: int, what: str) -> object:
    """One JSONL line -> object. Everything json can throw at hostile input (bad UTF-8, syntax,
    100,000 nested brackets -> RecursionError, a 5,000-digit integer -> ValueError, a lone
    surrogate escape that no later step could encode) becomes one PrefchatError naming the line."""
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError:
        raise PrefchatError(f"{path}:{n}: not UTF-8 text; is this a {what} JSONL file?") from None
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PrefchatError(f"{path}:{n}: not JSON ({exc.msg}); a {what} file has one JSON object "
                            "per line") from None
    except RecursionError:
        raise PrefchatError(f"{path}:{n}: JSON nested too deeply to be a {what} record") from None
    except (ValueError, OverflowError, MemoryError) as exc:  # e.g. Python's 4300-digit int limit
        why = " ".join(str(exc).split())[:120]
        raise PrefchatError(f"{path}:{n}: unusable JSON value ({why})") from None
    raw_b = raw if isinstance(raw, bytes) else raw.encode("utf-8", "surrogatepass")
    if _SURROGATE_ESCAPE.search(raw_b):
        try:
            json.dumps(obj, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise PrefchatError(f"{path}:{n}: contains an invalid unicode escape (a lone "
                                "surrogate like \\ud800); fix or drop that line") from None
    return obj


def read_jsonl(path: Path, what: str) -> Iterator[tuple[int, dict]]:
    """(line number, object) for each non-blank line; any problem is one PrefchatError naming the line."""
    if Path(path).is_dir():
        raise PrefchatError(f"{path}: is a directory; give the {what} file itself")
    try:
        f = open(path, "rb")
    except OSError as exc:
        raise PrefchatError(f"{path}: cannot read {what} file ({exc.strerror or exc}); check the path") from None
    with f:
        for n, raw in enumerate(f, 1):
            if not raw.strip():
                continue
            obj = parse_json_line(raw, path, n, what)
            if not isinstance(obj, dict):
                raise PrefchatError(f"{path}:{n}: expected a JSON object, got {type(obj).__name__}")
            yield n, obj


def need_str(obj: dict, key: str, path: Path, line: int, *aliases: str) -> str:
    for k in (key, *aliases):
        v = obj.get(k)
        if isinstance(v, str):
            return v
        if isinstance(v, (int, float)) and not isinstance(v, bool) and k in ("user", "uid", "worker", "user_id"):
            return str(v)  # numeric user ids are common; texts must be strings
    names = " or ".join(repr(k) for k in (key, *aliases))
    raise PrefchatError(f"{path}:{line}: missing string field {names}")


def build(comparisons: Iterable[Comparison], source: str, sha256: str, extra: dict | None = None,
          skipped: int = 0) -> PairwiseData:
    """Index comparisons into the engine's tables (see the module docstring)."""
    users: dict[str, int] = {}
    rows: dict[tuple[str, str], int] = {}
    pair_of: dict[tuple[int, int], int] = {}
    prompts: list[str] = []
    responses: list[str] = []
    pa: list[int] = []
    pb: list[int] = []
    pp: list[str] = []
    ou: list[int] = []
    om: list[int] = []
    oy: list[float] = []
    same = 0
    for c in comparisons:
        if c.a == c.b:
            same += 1  # identical texts carry no preference information
            continue
        ra = rows.setdefault((c.prompt, c.a), len(rows))
        rb = rows.setdefault((c.prompt, c.b), len(rows))
        for r, t in ((ra, c.a), (rb, c.b)):
            if r == len(responses):
                prompts.append(c.prompt)
                responses.append(t)
        y = float(c.outcome)
        if ra > rb:
            ra, rb, y = rb, ra, 1.0 - y
        m = pair_of.get((ra, rb))
        if m is None:
            m = pair_of[(ra, rb)] = len(pa)
            pa.append(ra), pb.append(rb), pp.append(c.prompt)
        ou.append(users.setdefault(c.user, len(users)))
        om.append(m)
        oy.append(y)
    # Prompts can be long (a Reddit post); the pair table keys them by a short stable hash.
    pkeys = np.array([hashlib.sha1(p.encode()).hexdigest()[:12] for p in pp]) if pp else np.array([], dtype=str)
    pairs = PairTable(np.array(pa, dtype=np.int64), np.array(pb, dtype=np.int64), pkeys)
    prefs = Preferences(np.array(ou, dtype=np.int64), np.array(om, dtype=np.int64), np.array(oy),
                        len(users), len(pa))
    ex = dict(extra or {})
    ex["skipped"] = skipped + same
    return PairwiseData(source, sha256, list(users), prompts, responses, [f"r{i}" for i in range(len(responses))],
                        pairs, prefs, extra=ex)


def check_usable(data: PairwiseData, require_overlap: bool = True) -> list[str]:
    """Reasons the engine cannot learn a shared basis from this data; raises on the first fatal one.

    Returns non-fatal warnings. `require_overlap=False` (training without the SVD initialisation)
    accepts data where no two users judged the same pair."""
    src = data.source
    prefs = data.prefs
    if len(prefs) == 0:
        raise PrefchatError(f"{src}: no usable comparisons (skipped {data.extra.get('skipped', 0)}); "
                            "check the format name and the file")
    if prefs.n_users < 2:
        raise PrefchatError(f"{src}: only one user ({data.users[0]!r}); a shared basis is learned from how "
                            "several people's preferences differ — use a dataset with two or more users")
    if np.all(prefs.outcome == 0.5):
        raise PrefchatError(f"{src}: every comparison is a tie, so there is no preference to learn")
    counts = np.bincount(prefs.user, minlength=prefs.n_users)
    if np.all(counts < 2):
        raise PrefchatError(f"{src}: every user made a single comparison; a user vector needs several "
                            "answers per user")
    shared = int(np.sum(_users_per_pair(prefs) >= 2))
    warnings = []
    if shared == 0:
        msg = (f"{src}: no overlap between users — no pair was judged by two different users, so the "
               "preference matrix has nothing to complete")
        if require_overlap:
            raise PrefchatError(msg + "; pass --no-svd-init to train from a random start instead")
        warnings.append(msg)
    if len(prefs) < 10 * prefs.n_users:
        warnings.append(f"{src}: only {len(prefs) / prefs.n_users:.1f} comparisons per user on average; "
                        "expect noisy user vectors")
    return warnings
