"""Live questions: pairs the user's own model writes for a prompt the user cares about (PReF,
Algorithm 2, with inference-time alignment standing in for the paper's aligned generation).

For the current posterior (lambda, H):
1. nu = the top eigenvector of H^-1: the direction of lambda the quiz is least sure about;
2. the style instructions for the traits along +nu and along -nu (prefchat.generation.card);
3. LIVE_PER_SIDE replies under each instruction, all in one request to the configured backend (the
   instruction is a final short system turn after the user's prompt);
4. the guard screens each (+nu, -nu) pair of replies as it would a lone pair (empty, no words,
   loops, truncated junk, one reply off-topic next to the other);
5. phi of every reply from the basis scorer; the pair shown is the usable pair whose replies lie
   furthest apart along nu, nu . (phi(x, y+) - phi(x, y-)). That is Algorithm 2's y1 near +nu/2
   and y2 near -nu/2 with best-of-N as the inference-time alignment, and a second reply per side
   means one off-topic reply no longer costs a whole new generation. When no usable pair is left
   the replies are generated again, once. Two identical replies never make a pair;
6. the pair's real difference, phi(x, A) - phi(x, B), updates lambda exactly like a pool answer
   (onboarding/quiz.py, QuizSession.offer_live).

A or B is +nu by a coin, so position bias cannot leak into lambda. Nothing here touches a UI: the
Textual app and the --plain runner call `LiveDriver.make` (one or two generations) and fall back to
pool questions on any failure. The Textual app (from a worker) and --plain on a terminal (from a
thread) call it right after the prompt and ask the pair after the pool question on screen, so the
writing overlaps the person's reading; with piped input --plain writes it when due (the answers must
meet the questions in a fixed order)."""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

from prefchat.config import build_backend, load_config
from prefchat.errors import PrefchatError
from prefchat.generation.card import direction_instructions
from prefchat.generation.guard import screen
from prefchat.llm import BackendError, Cancelled, GenerationRequest
from prefchat.rerank import phi_and_relevance
from prefchat.reward.elicit import uncertain_direction

# Replies the user reads are part of the quiz's reading cost: ~120 tokens is ~90 words each.
LIVE_MAX_TOKENS = 120
# Replies written per instruction. Two per side cost 1.3x (F16 weights) to 1.5x (Q8_0) a best-of-2 with
# llama.cpp on 2 cores (one batch of four rows, the prompt decoded once; BENCHMARKS.md, "Live
# questions"), fail the guard less often than one per side, and let the pair be chosen along nu.
LIVE_PER_SIDE = 2
SUGGESTED_PROMPTS = (
    "How do I keep fresh herbs from wilting?",
    "Can you explain what a mortgage offset account is?",
    "What should I pack for a weekend hike?",
    "How do I ask my manager for a day off?",
    "Why does bread go stale?",
    "Give me an idea for a quick weeknight dinner.",
)


class LiveFailed(PrefchatError):
    """No usable live pair (degenerate replies twice, or no named trait to steer by)."""


@dataclass(frozen=True)
class LivePair:
    """A generated pair in display order: diff = phi(x, a) - phi(x, b)."""

    prompt: str
    a: str
    b: str
    diff: np.ndarray
    instructions: tuple[str, str] = ("", "")   # what A and B were asked to be
    seconds: float = 0.0                        # generation + scoring + guard, wall clock
    attempts: int = 1


def suggestion(k: int) -> str:
    return SUGGESTED_PROMPTS[k % len(SUGGESTED_PROMPTS)]


def direction(precision: np.ndarray) -> np.ndarray:
    return uncertain_direction(np.asarray(precision, dtype=np.float64))


def instructions_for(precision: np.ndarray, basis) -> tuple[np.ndarray, str, str]:
    """nu and the two instructions, for +nu and for -nu."""
    nu = direction(precision)
    plus, minus = direction_instructions(nu, basis)
    if not plus or not minus or plus == minus:
        raise LiveFailed(f"basis '{basis.name}' names no trait along the direction to learn; "
                         "asking a question from the pool instead")
    return nu, plus, minus


class LiveQuestions:
    """Writes live pairs with `backend` and scores them with the basis. `load` and `make` are slow
    (seconds): call them from a worker thread. scorer: a loaded basis scorer, or None to load it."""

    def __init__(self, backend, basis, scorer=None, max_tokens: int = LIVE_MAX_TOKENS,
                 temperature: float = 0.8, seed: Optional[int] = None, ignore_eos: bool = False,
                 per_side: int = LIVE_PER_SIDE) -> None:
        """ignore_eos: decode exactly max_tokens per reply (benchmarks only). per_side: replies
        written under each instruction (1 = the plain pair)."""
        if per_side < 1:
            raise ValueError("per_side must be at least 1")
        self.backend, self.basis, self.scorer = backend, basis, scorer
        self.per_side = int(per_side)
        self.max_tokens, self.temperature = int(max_tokens), float(temperature)
        self.ignore_eos = bool(ignore_eos)
        self._rng = random.Random(seed)
        self._lock = threading.Lock()

    def load(self, progress: Optional[Callable[[str], None]] = None) -> None:
        self.backend.load(progress)
        with self._lock:
            if self.scorer is None:
                if progress:
                    progress("loading the scorer")
                self.scorer = self.basis.scorer()

    def pair_diffs(self, prompts, a, b) -> np.ndarray:
        """phi(x, a) - phi(x, b) for saved answers (resuming a quiz with live answers)."""
        self.load()
        return np.asarray(self.scorer.pair_diffs(list(prompts), list(a), list(b)), dtype=np.float64)

    def _generate(self, prompt: str, sides: tuple[str, str], seed: int, cancel) -> tuple[list, list]:
        """Every reply in one request, sides alternating (+nu, -nu, +nu, ...): the prompt is shared
        and each candidate's instruction is its final system turn, so a batching backend (llama.cpp)
        decodes the prompt once, each distinct instruction once, and all replies in one batch."""
        instructions = [sides[k % 2] for k in range(2 * self.per_side)]
        req = GenerationRequest([{"role": "user", "content": prompt}], n=len(instructions),
                                instructions=instructions, max_tokens=self.max_tokens,
                                temperature=self.temperature, seed=seed, ignore_eos=self.ignore_eos)
        out = self.backend.generate(req, None, cancel)
        return [c.text for c in out], [c.finish_reason for c in out]

    def make(self, prompt: str, precision: np.ndarray, cancel: Optional[threading.Event] = None) -> LivePair:
        """A live pair for `prompt` along the posterior's most uncertain direction. Raises a
        PrefchatError (BackendError for the model, LiveFailed for unusable replies) with one line."""
        prompt = prompt.strip()
        if not prompt:
            raise LiveFailed("the prompt is empty")
        t0 = time.perf_counter()
        nu, plus, minus = instructions_for(precision, self.basis)
        sides = (plus, minus)
        self.load()
        for attempt in (1, 2):
            seed = self._rng.randrange(2**31)
            texts, finish = self._generate(prompt, sides, seed, cancel)
            phi, rel = phi_and_relevance(self.scorer, prompt, list(texts))
            pairs, why = usable_pairs(prompt, texts, finish, None if rel is None else list(rel))
            if pairs:
                picked = furthest_along(nu, np.asarray(phi, dtype=np.float64), pairs)
                # which side is shown as A is a coin, so position bias cannot leak into lambda
                i, j = picked if self._rng.random() < 0.5 else picked[::-1]
                return LivePair(prompt, texts[i], texts[j], np.asarray(phi[i] - phi[j], dtype=np.float64),
                                (sides[i % 2], sides[j % 2]), time.perf_counter() - t0, attempt)
        raise LiveFailed(f"the model's replies were unusable twice ({why}); asking a question from the pool "
                         "instead")


def usable_pairs(prompt: str, texts, finish, rel) -> tuple[list[tuple[int, int]], str]:
    """Every (+nu reply, -nu reply) pair (even indices were written for +nu, odd for -nu) that passes
    the guard as a pair, or ([], why none does). Each pair is screened on its own, exactly as a lone
    pair would be: the relevance floor is relative to the better reply of the two, so a second reply
    per side can only add pairs, never reject one that would have passed by itself."""
    pairs, why = [], ""
    for i in range(0, len(texts), 2):
        for j in range(1, len(texts), 2):
            if texts[i].strip() == texts[j].strip():
                why = why or "both replies are the same"
                continue
            verdicts = screen(prompt, [texts[i], texts[j]], [finish[i], finish[j]],
                              None if rel is None else [rel[i], rel[j]])
            bad = [v.reason for v in verdicts if not v.ok or v.reason]  # "kept although it failed" too
            if bad:
                why = why or bad[0]
            else:
                pairs.append((i, j))
    return pairs, why


def furthest_along(nu: np.ndarray, phi: np.ndarray, pairs: list[tuple[int, int]]) -> tuple[int, int]:
    """The pair whose replies lie furthest apart along nu: nu . (phi[+] - phi[-]) largest."""
    return max(pairs, key=lambda ij: float(nu @ (phi[ij[0]] - phi[ij[1]])))


def from_config(basis, cfg=None, seed: Optional[int] = None, **overrides) -> LiveQuestions:
    """LiveQuestions on the configured backend (config file, env, overrides), not loaded yet.
    seed: makes the generation seeds reproducible (tests, benchmarks)."""
    cfg = cfg if cfg is not None else load_config()
    return LiveQuestions(build_backend(cfg, **overrides), basis, temperature=cfg.temperature, seed=seed)


class LiveDriver:
    """When the quiz asks a live question, and what a failure does; shared by both front ends.

    Pool questions come first while the model loads (`load`, in a worker); once it is ready, live and
    pool questions alternate, so a person types a prompt every other question at most. A backend
    failure (model missing, server down, timeout) turns live questions off for the session with a
    one-line note; unusable replies only skip that one live question. Answers are never touched here:
    they live in QuizSession, which saves each one as it comes."""

    def __init__(self, live: LiveQuestions) -> None:
        self.live = live
        self.state = "loading"            # loading | ready | off
        self.note: Optional[str] = None   # the latest one-line note for the user
        self._asked = 0

    @classmethod
    def unavailable(cls, why: BaseException) -> "LiveDriver":
        """A driver that is off from the start (e.g. no model configured), with the note saying why."""
        d = cls(None)  # type: ignore[arg-type]
        d._off(why)
        return d

    def load(self, progress: Optional[Callable[[str], None]] = None) -> None:
        """Load the model and the scorer (slow: call from a worker). Never raises."""
        if self.state == "off":
            return
        try:
            self.live.load(progress)
            self.state = "ready"
        except Exception as exc:  # noqa: BLE001 - any failure means: pool questions only
            self._off(exc)

    def _off(self, exc: BaseException) -> None:
        self.state = "off"
        self.note = f"Live questions are off: {_one_line(exc)}. Continuing with questions from the pool."

    def due(self, session, ahead: bool = False) -> bool:
        """True when it is time to ask for a live prompt. Without `ahead` the pair is written now and
        asked next, so a live question never follows a live one. With `ahead` (the Textual quiz, and
        --plain on a terminal) the pair is written while the person reads the pool question on screen
        and asked after it (QuizSession.wants_written_pair), so there is always a pool question in
        between: a prompt may be asked right after a live answer."""
        if self.state != "ready" or not session.wants_live():
            return False
        return ahead or not session.last_answer_live

    def prompt_hint(self) -> str:
        return suggestion(self._asked)

    def make(self, session, prompt: str, cancel: Optional[threading.Event] = None,
             offer: bool = True, precision: Optional[np.ndarray] = None) -> Optional[LivePair]:
        """Generate a live pair and (offer=True) offer it to the session; None (with `note` set) on
        failure. A UI that calls this from a worker passes offer=False and offers the pair on its own
        thread, and passes `precision`, a copy of the posterior taken on that thread, because the
        person may answer (and the session refit) while the worker runs."""
        self._asked += 1
        if precision is None:
            precision = session.elicitor.precision
        try:
            pair = self.live.make(prompt, precision, cancel)
        except LiveFailed as exc:
            self.note = str(exc)
            return None
        except Cancelled:
            self.note = "Live question cancelled; here is one from the pool."
            return None
        except BackendError as exc:
            self._off(exc)
            return None
        except Exception as exc:  # noqa: BLE001 - e.g. the scorer failing: same fallback, one line
            self._off(exc)
            return None
        if offer:
            session.offer_live(pair)
        self.note = None
        return pair


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:200]
