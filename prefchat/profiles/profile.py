"""The profile file (docs/FORMATS.md, Profile) as a dataclass, and strict validation of untrusted input.

A profile file may come from another machine, so parsing treats it as hostile: the byte size is capped
before anything is decoded, nesting depth is checked before `json` recurses, numbers must be finite,
unknown keys are refused (a typo must not silently drop data), and every failure is a PrefchatError with
one line saying what is wrong and what to do. Floats are kept as Python floats and written with
`json` (repr round-trips exactly), so export -> import reproduces lambda and precision bit for bit."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone

import numpy as np

from prefchat.errors import PrefchatError

FORMAT = "prefchat.profile"
FORMAT_VERSION = 1

# Limits. A real profile is a few KB (J ~ 8, a few dozen answers); these leave wide headroom while
# keeping a hostile file from costing more than a moment of CPU and a few hundred MB of memory.
MAX_FILE_BYTES = 5 * 1024 * 1024
MAX_DEPTH = 8          # a valid profile nests 3 deep (root > answers > answer, root > precision > row)
MAX_DIMS = 256
MAX_ANSWERS = 20_000
MAX_TEXT_CHARS = 200_000

NAME_RE = re.compile(r"[A-Za-z0-9._-]{1,64}")
FINGERPRINT_RE = re.compile(r"[a-z0-9]{1,16}:[0-9a-f]{8,128}")
TIMESTAMP_RE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})")
CHOICES = ("a", "b", "tie")
SOURCES = ("onboard", "chat")

_TOP_KEYS = ("format", "version", "name", "basis", "lambda", "precision", "answers", "created_at",
             "updated_at")
_BASIS_KEYS = ("name", "fingerprint", "dims")
_ANSWER_KEYS = ("prompt", "a", "b", "choice", "source", "at")


def now_iso() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def check_name(name: object, what: str = "profile name") -> str:
    """Names become file names, so only a safe charset; a leading '.' is refused: '.' and '..' are
    path tricks, and a dotfile would be hidden from `profile list` (temp and lock files are dotfiles)."""
    if not isinstance(name, str) or not NAME_RE.fullmatch(name) or name.startswith("."):
        raise PrefchatError(f"invalid {what} {_short(name)}: use 1-64 characters from A-Z a-z 0-9 . _ - "
                            "(not starting with '.')")
    return name


@dataclass(frozen=True)
class BasisRef:
    name: str
    fingerprint: str
    dims: int


@dataclass(frozen=True)
class Answer:
    prompt: str
    a: str
    b: str
    choice: str  # "a" | "b" | "tie"
    source: str  # "onboard" | "chat"
    at: str


@dataclass(frozen=True)
class Profile:
    name: str
    basis: BasisRef
    lam: list[float]               # "lambda" in the file (a Python keyword here)
    precision: list[list[float]]
    answers: list[Answer] = field(default_factory=list)
    created_at: str = ""
    updated_at: str = ""

    def to_dict(self) -> dict:
        return {"format": FORMAT, "version": FORMAT_VERSION, "name": self.name,
                "basis": {"name": self.basis.name, "fingerprint": self.basis.fingerprint,
                          "dims": self.basis.dims},
                "lambda": list(self.lam), "precision": [list(r) for r in self.precision],
                "answers": [{"prompt": a.prompt, "a": a.a, "b": a.b, "choice": a.choice,
                             "source": a.source, "at": a.at} for a in self.answers],
                "created_at": self.created_at, "updated_at": self.updated_at}

    def to_bytes(self) -> bytes:
        # ensure_ascii keeps the file pure ASCII: no encoding surprises in other tools reading it.
        return (json.dumps(self.to_dict(), indent=1, ensure_ascii=True, allow_nan=False) + "\n").encode()

    def with_name(self, name: str) -> "Profile":
        return replace(self, name=check_name(name))

    def lam_array(self):
        return np.asarray(self.lam, dtype=np.float64)

    def precision_array(self):
        return np.asarray(self.precision, dtype=np.float64)


def new_profile(name: str, basis_name: str, fingerprint: str, lam, precision, answers=(),
                created_at: str | None = None) -> Profile:
    """Build a profile from numpy results; the precision is symmetrised exactly ((P + P^T)/2 is
    bitwise symmetric), because the Newton Hessian is only symmetric up to rounding."""
    lam = np.asarray(lam, dtype=np.float64)
    P = np.asarray(precision, dtype=np.float64)
    P = 0.5 * (P + P.T)
    ts = now_iso()
    d = {"format": FORMAT, "version": FORMAT_VERSION, "name": name,
         "basis": {"name": basis_name, "fingerprint": fingerprint, "dims": int(lam.shape[0])},
         "lambda": [float(x) for x in lam], "precision": [[float(x) for x in row] for row in P],
         "answers": [_answer_dict(a) if isinstance(a, Answer) else a for a in answers],
         "created_at": created_at or ts, "updated_at": ts}
    return from_dict(d)


def _answer_dict(a: Answer) -> dict:
    return {"prompt": a.prompt, "a": a.a, "b": a.b, "choice": a.choice, "source": a.source, "at": a.at}


# ---------------------------------------------------------------------------------------------------
# Parsing untrusted bytes

_BRACKET = None


def _max_depth(data: bytes) -> int:
    """Deepest [ / { nesting outside strings, vectorised so a 5 MB file takes milliseconds.

    A quote opens or closes a string unless an odd run of backslashes precedes it. Multi-byte UTF-8
    sequences never contain ASCII bytes, so scanning the raw bytes is exact for valid JSON; for
    invalid JSON the estimate may be off, but json.loads rejects such text anyway (and its C scanner
    raises RecursionError rather than crashing, which _decode also catches)."""
    global _BRACKET
    if _BRACKET is None:
        lut = np.zeros(256, dtype=np.int8)
        lut[[ord("["), ord("{")]] = 1
        lut[[ord("]"), ord("}")]] = -1
        _BRACKET = lut
    b = np.frombuffer(data, dtype=np.uint8)
    delta = _BRACKET[b]
    pos = np.flatnonzero(delta)
    if len(pos) <= MAX_DEPTH:
        return len(pos)  # too few brackets to nest deeply: skip the string analysis
    quotes = np.flatnonzero(b == ord('"'))
    maybe_escaped = quotes[(quotes > 0) & (b[quotes - 1] == ord("\\"))]
    if len(maybe_escaped):
        bs = np.flatnonzero(b == ord("\\"))
        starts = np.ones(len(bs), dtype=bool)
        starts[1:] = bs[1:] != bs[:-1] + 1
        run_start = np.maximum.accumulate(np.where(starts, np.arange(len(bs)), 0))
        j = np.searchsorted(bs, maybe_escaped - 1)  # index of the backslash just before the quote
        escaped = maybe_escaped[(j - run_start[j] + 1) % 2 == 1]
        quotes = np.setdiff1d(quotes, escaped, assume_unique=True)
    # A bracket is inside a string when an odd number of real quotes precede it.
    inside = np.searchsorted(quotes, pos) % 2 == 1
    steps = delta[pos][~inside].astype(np.int64)
    return int(np.cumsum(steps).max()) if len(steps) else 0


def _reject_constant(name: str):
    raise PrefchatError(f"contains {name}; profile numbers must be finite")


def _no_duplicates(pairs):
    d = {}
    for k, v in pairs:
        if k in d:
            raise PrefchatError(f"key {_short(k)} appears twice; the file is ambiguous")
        d[k] = v
    return d


def parse_bytes(data: bytes, source: str = "profile") -> Profile:
    """Untrusted bytes -> validated Profile, or PrefchatError('<source>: <reason>')."""
    try:
        return from_dict(_decode(data), source)
    except PrefchatError as exc:
        msg = str(exc)
        raise PrefchatError(msg if msg.startswith(f"{source}: ") else f"{source}: {msg}") from None


def _decode(data: bytes) -> object:
    if len(data) > MAX_FILE_BYTES:
        raise PrefchatError(f"larger than {MAX_FILE_BYTES // (1024 * 1024)} MB; not a profile file")
    if not data.strip():
        raise PrefchatError("empty file; not a profile")
    try:
        text = data.decode("utf-8", errors="strict")
    except UnicodeDecodeError as exc:
        raise PrefchatError(f"not UTF-8 text (bad byte at offset {exc.start}); is this a profile "
                            "exported by `prefchat profile export`?") from None
    if text.startswith("\ufeff"):  # some editors add a BOM; harmless, and json.loads refuses it
        text = text[1:]
    if _max_depth(data) > MAX_DEPTH:
        raise PrefchatError(f"nested deeper than {MAX_DEPTH} levels; not a profile file")
    try:
        return json.loads(text, parse_constant=_reject_constant, object_pairs_hook=_no_duplicates)
    except json.JSONDecodeError as exc:
        raise PrefchatError(f"not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno}); "
                            "the file may be truncated or edited by hand") from None
    except (ValueError, RecursionError, MemoryError) as exc:
        # ValueError: e.g. an integer literal longer than Python's 4300-digit limit.
        raise PrefchatError(f"not a usable JSON document ({type(exc).__name__})") from None


# ---------------------------------------------------------------------------------------------------
# Validating the decoded document

def _short(v: object, n: int = 40) -> str:
    r = repr(v)  # repr escapes newlines and control characters: the message stays one line
    return r if len(r) <= n else r[: n - 3] + "..."


def _obj(v: object, keys: tuple[str, ...], where: str) -> dict:
    if not isinstance(v, dict):
        raise PrefchatError(f"{where} must be a JSON object, not {type(v).__name__}")
    unknown = [k for k in v if k not in keys]
    if unknown:
        raise PrefchatError(f"{where} has unknown key {_short(unknown[0])}; allowed: {', '.join(keys)}")
    missing = [k for k in keys if k not in v]
    if missing:
        raise PrefchatError(f"{where} is missing key {missing[0]!r}")
    return v


def _str(v: object, where: str, max_chars: int = MAX_TEXT_CHARS) -> str:
    if not isinstance(v, str):
        raise PrefchatError(f"{where} must be a string, not {type(v).__name__}")
    if len(v) > max_chars:
        raise PrefchatError(f"{where} is longer than {max_chars} characters")
    try:
        v.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate from a \ud800 escape: not text, and unwritable
        raise PrefchatError(f"{where} contains an invalid unicode escape (lone surrogate)") from None
    return v


def _num(v: object, where: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise PrefchatError(f"{where} must be a number, not {type(v).__name__}")
    try:
        f = float(v)
    except OverflowError:
        raise PrefchatError(f"{where} is out of range") from None
    if not math.isfinite(f):
        raise PrefchatError(f"{where} must be finite")
    return f


def _vector(v: object, n: int, where: str) -> list[float]:
    if not isinstance(v, list):
        raise PrefchatError(f"{where} must be a list of numbers, not {type(v).__name__}")
    if len(v) != n:  # checked before touching elements: a huge array costs nothing more
        raise PrefchatError(f"{where} has {len(v)} entries but basis.dims is {n}")
    return [_num(x, f"{where}[{i}]") for i, x in enumerate(v)]


def _timestamp(v: object, where: str) -> str:
    s = _str(v, where, 40)
    try:
        # Python 3.10's fromisoformat reads neither a trailing Z nor 1-5 fraction digits: normalise both
        iso = s[:-1] + "+00:00" if s.endswith("Z") else s
        iso = re.sub(r"\.(\d{1,6})", lambda m: "." + m.group(1).ljust(6, "0"), iso)
        ok = TIMESTAMP_RE.fullmatch(s) is not None and datetime.fromisoformat(iso) is not None
    except ValueError:
        ok = False
    if not ok:
        raise PrefchatError(f"{where} must be an ISO 8601 UTC time like 2026-11-26T21:00:00Z, "
                            f"not {_short(s)}")
    return s


def _check_precision(rows: list[list[float]], where: str) -> None:
    P = np.asarray(rows, dtype=np.float64)
    scale = max(1.0, float(np.abs(P).max()))
    if np.abs(P - P.T).max() > 1e-9 * scale:
        raise PrefchatError(f"{where} is not symmetric")
    try:
        np.linalg.cholesky(P)
    except np.linalg.LinAlgError:
        raise PrefchatError(f"{where} is not positive definite; refit the profile "
                            "(`prefchat profile refit`) or re-export it") from None


def from_dict(d: object, source: str = "profile") -> Profile:
    """Strictly validate a decoded document. Messages name the offending field."""
    if not isinstance(d, dict):
        raise PrefchatError(f"top level must be a JSON object, not {type(d).__name__}; not a profile")
    if d.get("format") != FORMAT:
        raise PrefchatError(f"not a prefchat profile (format is {_short(d.get('format'))}, "
                            f"expected {FORMAT!r})")
    version = d.get("version")
    is_int = isinstance(version, int) and not isinstance(version, bool)  # 1.0 and true are not 1
    if is_int and version > FORMAT_VERSION:
        raise PrefchatError(f"profile format version {version} is newer than this prefchat reads "
                            f"({FORMAT_VERSION}); upgrade prefchat")
    if not is_int or version != FORMAT_VERSION:
        raise PrefchatError(f"unsupported profile version {_short(version)} (expected {FORMAT_VERSION})")
    _obj(d, _TOP_KEYS, "profile")
    name = check_name(d["name"])
    b = _obj(d["basis"], _BASIS_KEYS, "basis")
    basis_name = check_name(b["name"], "basis name")
    fp = _str(b["fingerprint"], "basis.fingerprint", 200)
    if not FINGERPRINT_RE.fullmatch(fp):
        raise PrefchatError(f"basis.fingerprint {_short(fp)} is not of the form 'sha256:<hex>'")
    dims = b["dims"]
    if isinstance(dims, bool) or not isinstance(dims, int) or not 1 <= dims <= MAX_DIMS:
        raise PrefchatError(f"basis.dims must be an integer from 1 to {MAX_DIMS}, not {_short(dims)}")
    lam = _vector(d["lambda"], dims, "lambda")
    prec = d["precision"]
    if not isinstance(prec, list) or len(prec) != dims:
        n = len(prec) if isinstance(prec, list) else type(prec).__name__
        raise PrefchatError(f"precision must be a {dims}x{dims} matrix (got {n} rows)")
    precision = [_vector(row, dims, f"precision[{i}]") for i, row in enumerate(prec)]
    _check_precision(precision, "precision")
    raw = d["answers"]
    if not isinstance(raw, list):
        raise PrefchatError(f"answers must be a list, not {type(raw).__name__}")
    if len(raw) > MAX_ANSWERS:
        raise PrefchatError(f"answers has {len(raw)} entries; at most {MAX_ANSWERS} are accepted")
    answers = []
    for i, a in enumerate(raw):
        w = f"answers[{i}]"
        a = _obj(a, _ANSWER_KEYS, w)
        choice, src = a["choice"], a["source"]
        if choice not in CHOICES:
            raise PrefchatError(f"{w}.choice must be one of a, b, tie, not {_short(choice)}")
        if src not in SOURCES:
            raise PrefchatError(f"{w}.source must be onboard or chat, not {_short(src)}")
        answers.append(Answer(_str(a["prompt"], f"{w}.prompt"), _str(a["a"], f"{w}.a"),
                              _str(a["b"], f"{w}.b"), choice, src, _timestamp(a["at"], f"{w}.at")))
    return Profile(name, BasisRef(basis_name, fp, dims), lam, precision, answers,
                   _timestamp(d["created_at"], "created_at"), _timestamp(d["updated_at"], "updated_at"))
