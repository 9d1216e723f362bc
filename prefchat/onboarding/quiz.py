"""The onboarding quiz as a UI-free state machine: which pair to show, what an answer means, undo,
saving after every answer, and resuming from a saved profile.

Both front ends drive this class: the Textual app (tui/onboard_app.py) and the --plain runner
(tui/plain.py). Nothing here imports a UI toolkit or torch: the pool of pair differences was
precomputed with the basis, so a question costs one Newton refit on a J-dim vector (milliseconds).

Display order: a pool pair (a, b) is shown either as (A=a, B=b) or flipped, decided by a hash of the
pair ids. Corpus files often list responses in a systematic order (e.g. the short one first); showing
that order every time would let position bias leak into lambda. The hash (not a random draw) keeps the
orientation identical when a quiz is resumed.

Resume: the profile format stores answers as texts (prompt, a, b, choice), with no pool ids, so saved
answers are matched back to pool rows by their texts, in either orientation. Replaying them through
the Elicitor in the saved order reproduces lambda and the next question exactly, because selection is
deterministic once the first (random) question has been answered. Answers to live questions (pairs
the user's own model wrote; prefchat/onboarding/live.py) are in no pool: replaying them needs their
phi differences, which `pair_diffs_fn` (the basis scorer) computes from the saved texts.

Selection is cost-aware (prefchat/reward/elicit.py): the most uncertainty removed per word read. By default
the quiz runs until about five minutes of reading (DEFAULT_WORDS, at most QUIZ_MAX_QUESTIONS
questions); `--questions N` asks exactly N instead."""

from __future__ import annotations

import secrets
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from prefchat.basis import load_basis
from prefchat.data.corpus import load_corpus
from prefchat.data.reading import DEFAULT_WORDS, QUIZ_MAX_QUESTIONS, WORDS_PER_MINUTE, pair_words, words
from prefchat.errors import PrefchatError
from prefchat.onboarding.quiz_saving import OUTCOME, QuizSaving
from prefchat.profiles.profile import Answer, check_name, now_iso
from prefchat.profiles.store import ProfileStore
from prefchat.reward.elicit import Elicitor

DEFAULT_QUESTIONS = QUIZ_MAX_QUESTIONS
MORE_QUESTIONS = 5          # "a few more" at the end
MIN_BEFORE_EARLY_STOP = 6   # never stop early on a handful of lucky answers
CHOICES = tuple(OUTCOME)


@dataclass(frozen=True)
class Question:
    """One pair as shown: A and B are in display order (see `flipped`)."""

    number: int      # 1-based position in the quiz
    index: int       # pool row
    flipped: bool    # True when A is the pool's b response
    prompt_id: str
    a_id: str
    b_id: str
    prompt: str
    a: str
    b: str
    live: object | None = None  # the LivePair when the user's own model wrote this pair

    @property
    def words(self) -> int:
        return words(self.prompt) + words(self.a) + words(self.b)


@dataclass(frozen=True)
class Progress:
    """Where the quiz stands, for the progress line: question `number` of `of` (an estimate when
    `approx`: the quiz ends on a words budget), and the reading time left, current question included."""

    number: int
    of: int
    approx: bool
    words_read: float
    minutes_left: float

    def line(self) -> str:
        of = f"~{self.of}" if self.approx else str(self.of)
        m = self.minutes_left
        left = "under a minute left" if m < 1 else f"about {m:.0f} min left"
        return f"Question {self.number} of {of}  ·  {left}"


@dataclass(frozen=True)
class Settled:
    """How settled the profile is: mean posterior sd over the named traits, and how far it has
    shrunk from the prior's (0 = nothing learned yet, 1 = certain)."""

    mean_sd: float
    fraction: float


def _flip(prompt_id: str, a_id: str, b_id: str) -> bool:
    return bool(zlib.crc32(f"{prompt_id}\0{a_id}\0{b_id}".encode("utf-8", "surrogatepass")) & 1)


def leanings(rows: list[dict]) -> list[tuple[str, str]]:
    """The poles a person clearly leans to, strongest first: (pole, 'strongly' | 'somewhat').
    Only weights more than one posterior sd from zero count, so a vague trait is not over-read."""
    out = []
    for r in sorted(rows, key=lambda r: -abs(r["value"])):
        sd = r.get("sd") or 0.0
        if abs(r["value"]) > max(sd, 0.15):
            pole = r["pos"] if r["value"] > 0 else r["neg"]
            out.append((pole, "strongly" if abs(r["value"]) > max(2 * sd, 0.5) else "somewhat"))
    return out


class QuizSession(QuizSaving):
    """State of one person's onboarding. Build it with `open_session`; the constructor trusts its
    inputs (checked there)."""

    def __init__(self, basis, pool, corpus, store, name: str, total: int | None = None,
                 seed: int | None = None, stop_sd: float | None = None, words_budget: float | None = None):
        """total: ask exactly this many questions; None: the default quiz, cost-aware questions until
        about DEFAULT_WORDS words read (words_budget overrides that), at most QUIZ_MAX_QUESTIONS."""
        self.basis, self.pool, self.corpus, self.store, self.name = basis, pool, corpus, store, name
        if total is None:
            total, words_budget = QUIZ_MAX_QUESTIONS, words_budget or DEFAULT_WORDS
        self.total = int(total)
        self.stop_sd = stop_sd
        self.stopped_early = False
        self.created_at: str | None = None
        self.answers: list = []           # prefchat.profiles.profile.Answer, in the order asked
        self.flips: list[bool] = []
        self.saved_path: Path | None = None
        self.resumed = 0                  # answers replayed from the saved profile
        # Save bookkeeping (see save()): what the file held when last read or written by us, its
        # revision, answers other writers added meanwhile, and which of ours are on disk.
        self.base_answers: list = []
        self.revision: str | None = None  # None: not read yet (read at the first save)
        self.foreign: list = []
        self._saved_keys: set = set()
        self.save_error: str | None = None  # the last save's failure, None once a save succeeds
        mean, precision = basis.prior
        # Words read per pool pair, counted from the corpus texts at load time (a few ms).
        self.costs = pair_words(corpus, pool.prompt_ids, pool.a_ids, pool.b_ids)
        self.elicitor = Elicitor(pool.diffs, pool.prompt_ids, beta=precision, prior_mean=mean,
                                 seed=secrets.randbits(32) if seed is None else int(seed),
                                 strategy="cost-aware", costs=self.costs, budget=words_budget)
        self._current: int | None = None
        self._live = None                 # a live pair waiting to be asked (offer_live)
        self._live_asked: list = []       # live pairs answered, in order (for undo)
        self._prior_sd = self._axis_sds(mean, precision)

    # -- questions -----------------------------------------------------------------------------------

    @property
    def answered(self) -> int:
        return self.elicitor.n_answers

    @property
    def words_budget(self) -> float | None:
        return self.elicitor.budget

    @property
    def words_read(self) -> float:
        return self.elicitor.words_read()

    def progress(self) -> Progress:
        """Question number, the (estimated) length of the quiz, and the reading time left."""
        q = self.current()
        here = q.words if q is not None else 0
        done_q = self.answered
        avg = self.words_read / done_q if done_q else float(here or np.median(self.costs))
        left_q = max(self.total - done_q, 0)
        left = left_q * avg if done_q else here + max(left_q - 1, 0) * avg
        budget = self.words_budget
        if budget is not None:
            left = min(left, max(budget - self.words_read, here))
        of, approx = self.total, False
        if budget is not None and avg > 0:
            of, approx = min(self.total, done_q + max(1, int(round(left / avg)))), True
        return Progress(done_q + 1, max(of, done_q + 1), approx, self.words_read, left / WORDS_PER_MINUTE)

    def _question(self, idx: int) -> Question:
        pid = str(self.pool.prompt_ids[idx])
        a_id, b_id = str(self.pool.a_ids[idx]), str(self.pool.b_ids[idx])
        flipped = _flip(pid, a_id, b_id)
        if flipped:
            a_id, b_id = b_id, a_id
        c = self.corpus
        return Question(self.answered + 1, idx, flipped, pid, a_id, b_id, c.prompt_text(pid),
                        c.response_text(a_id), c.response_text(b_id))

    def current(self) -> Question | None:
        """The question to ask now, or None when the quiz is done."""
        if self.done:
            return None
        if self._live is not None:
            lp = self._live
            return Question(self.answered + 1, -1, False, "live", "live-a", "live-b", lp.prompt, lp.a, lp.b, lp)
        return None if self._pool_next() is None else self._question(self._current)

    def _pool_next(self) -> int | None:
        if self._current is None:
            self._current = self.elicitor.next_question()
        return self._current

    @property
    def exhausted(self) -> bool:
        """Every prompt of the pool has been asked."""
        return not self.elicitor.available().any()

    @property
    def done(self) -> bool:
        if self.answered >= self.total or self.stopped_early:
            return True
        # no pool pair left, or none fits in the words budget; a live pair already offered is asked
        return self._live is None and self._pool_next() is None

    def can_extend(self) -> bool:
        return not self.exhausted

    def extend(self, n: int = MORE_QUESTIONS) -> None:
        """'A few more': n questions past what has been answered. Asking for more overrides the
        early stop and the words budget (otherwise the next answer would end the quiz again)."""
        ended_early = self.stopped_early or self.elicitor.budget is not None  # settled, or words ran out
        self.total = (self.answered if ended_early else max(self.total, self.answered)) + int(n)
        self.stopped_early = False
        self.stop_sd = None
        self.elicitor.budget = None
        self._current = None

    # -- live questions ------------------------------------------------------------------------------

    @property
    def last_answer_live(self) -> bool:
        """The latest answer was to a live pair (the elicitor's `order` marks those)."""
        return bool(self.elicitor.order) and bool(self.elicitor.order[-1])

    def wants_written_pair(self) -> bool:
        """A live pair written while the question before it was read may be asked now: the quiz wants
        a live question and the latest answer was a pool one (after an undo it may be a live one; the
        pair then waits, so two live questions never follow each other)."""
        return self.wants_live() and not self.last_answer_live

    def wants_live(self) -> bool:
        """True when the next question could be a live one (the quiz is not over, none is waiting)."""
        return self._live is None and not self.done

    def offer_live(self, pair) -> None:
        """Ask `pair` (prefchat.onboarding.live.LivePair: prompt, a, b in display order, diff =
        phi(x, a) - phi(x, b)) as the next question instead of a pool pair."""
        d = np.asarray(pair.diff, dtype=np.float64)
        if d.shape != (self.basis.dims,) or not np.all(np.isfinite(d)):
            raise PrefchatError(f"a live pair needs {self.basis.dims} finite phi differences, got shape {d.shape}")
        self._live = pair

    def drop_live(self) -> None:
        """Forget a live pair not yet answered (e.g. the user wants a pool question instead)."""
        self._live = None

    # -- answering -----------------------------------------------------------------------------------

    def answer(self, choice: str) -> Path:
        """Record 'a', 'b' or 'tie' for the current question, refit, and save the profile."""
        if choice not in OUTCOME:
            raise PrefchatError(f"answer must be one of {', '.join(CHOICES)}, not {choice!r}")
        q = self.current()
        if q is None:
            raise PrefchatError("the quiz is finished; there is no question to answer")
        if q.live is not None:
            self._record_live(q.live, choice)
        else:
            self._record(q.index, q.flipped, choice)
        self.answers.append(Answer(q.prompt, q.a, q.b, choice, "onboard", now_iso()))
        if (self.stop_sd is not None and self.answered >= MIN_BEFORE_EARLY_STOP
                and self.answered < self.total and self.settled().mean_sd < self.stop_sd):
            self.stopped_early = True
        return self.save()

    def _record(self, idx: int, flipped: bool, choice: str) -> None:
        y = OUTCOME[choice]
        # The pool's difference is phi(a) - phi(b) in pool order; shown flipped, "A wins" means b won.
        self.elicitor.answer(idx, 1.0 - y if flipped else y)
        self.flips.append(flipped)
        self._current = None

    def _record_live(self, pair, choice: str) -> None:
        # A live pair is stored in display order: diff is phi(shown A) - phi(shown B).
        self.elicitor.answer_pair(pair.diff, OUTCOME[choice], cost=words(pair.prompt) + words(pair.a) + words(pair.b))
        self.flips.append(False)
        self._live_asked.append(pair)
        self._live = None
        self._current = None

    def undo(self) -> bool:
        """Forget the last answer and ask its question again. False when there is nothing to undo."""
        idx = self.elicitor.undo()
        if idx is None:
            return False
        self.answers.pop()
        self.flips.pop()
        # Re-ask the same pair (not whatever is now most informative): that is what undo means, and
        # for the first question the choice would otherwise be a new random draw.
        if isinstance(idx, np.ndarray):  # a live pair: the same texts again
            self._live = self._live_asked.pop()
            self._current = None
        else:
            self._live = None
            self._current = idx
        self.stopped_early = False
        self.save()
        return True

    def _axis_sds(self, lam, precision) -> np.ndarray:
        if self.basis.axes:
            return np.array([r["sd"] for r in self.basis.describe(lam, precision)])
        return np.sqrt(np.diag(np.linalg.inv(precision)))

    def settled(self) -> Settled:
        sd = self._axis_sds(self.elicitor.lam, self.elicitor.precision)
        m, m0 = float(sd.mean()), float(self._prior_sd.mean())
        return Settled(m, float(np.clip(1.0 - m / m0, 0.0, 1.0)) if m0 > 0 else 0.0)



def _check_pool(basis, pool, corpus) -> None:
    """The pool is shipped data: check it once so a mismatch is one clear line, not an IndexError
    in the middle of the quiz."""
    J = basis.dims
    d = pool.diffs
    K = d.shape[0] if d.ndim == 2 else -1
    if d.ndim != 2 or d.shape[1] != J or K == 0:
        raise PrefchatError(f"{basis.path}/pool.npz: diffs has shape {d.shape}, expected (K, {J}); "
                            "rebuild the basis")
    if not (len(pool.prompt_ids) == len(pool.a_ids) == len(pool.b_ids) == K):
        raise PrefchatError(f"{basis.path}/pool.npz: prompt_ids, a_ids, b_ids and diffs differ in length")
    if not np.all(np.isfinite(d)):
        raise PrefchatError(f"{basis.path}/pool.npz: diffs contain NaN or inf; rebuild the basis")
    basis.prior  # raises a one-line PrefchatError for a missing or misshapen prior
    rids, pids = set(corpus.response_ids), set(corpus.prompts)
    missing = next((str(x) for x in np.concatenate([pool.a_ids, pool.b_ids]) if str(x) not in rids), None)
    missing = missing or next((str(x) for x in pool.prompt_ids if str(x) not in pids), None)
    if missing is not None:
        raise PrefchatError(f"the onboarding pool of basis '{basis.name}' refers to '{missing}', which is "
                            f"not in the corpus {corpus.path}; pass the corpus the basis was built from "
                            "(--corpus FILE)")


def open_session(profile: str | None = None, basis: str | Path | None = None,
                 corpus: str | Path | None = None, questions: int | None = None,
                 restart: bool = False, seed: int | None = None, stop_sd: float | None = None,
                 store=None, pair_diffs_fn=None) -> QuizSession:
    """Load basis, pool, corpus and (unless restarting) the saved profile; numpy only, no torch
    (unless the profile holds live answers and pair_diffs_fn loads a scorer for them).
    questions: exactly that many; None: the default quiz (about five minutes of reading).
    Every problem becomes a PrefchatError naming the file and the fix."""
    if questions is not None and questions < 1:
        raise PrefchatError(f"--questions must be at least 1, not {questions}")
    if stop_sd is not None and not stop_sd > 0:
        raise PrefchatError(f"the early-stop sd must be > 0, not {stop_sd}")
    store = store if store is not None else ProfileStore()
    name = check_name(profile or default_profile_name(store))
    b = load_basis(basis)
    pool = b.pool()
    c = load_corpus(corpus)
    _check_pool(b, pool, c)
    s = QuizSession(b, pool, c, store, name, total=questions, seed=seed, stop_sd=stop_sd)
    if not restart:
        saved, rev = store.read_optional(name)
        s.revision = rev  # "" when there is no file yet: a file appearing meanwhile gets merged
        if saved is None:
            return s
        if saved.basis.fingerprint != b.fingerprint:
            raise PrefchatError(f"profile '{name}' was made with basis '{saved.basis.name}' "
                                f"({saved.basis.fingerprint[:19]}…), not '{b.name}'; start over with "
                                "--restart or refit it with `prefchat profile refit`")
        s.replay(saved, rev, pair_diffs_fn)
    return s


def default_profile_name(store) -> str:
    try:
        return store.get_default() or "me"
    except PrefchatError:
        return "me"
