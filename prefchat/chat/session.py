"""A chat conversation without any UI: messages, generation of N candidates, reranking, history and
learning from the user's picks. The Textual app (tui/chat_app.py) and `prefchat ask` both drive it.

Candidate strategy (config `candidates`, `--candidates`): plain samples of one prompt, or per-candidate
instructions from the profile (card / styled, prefchat/generation/strategies.py) appended after the
conversation. Each candidate's instruction, the guard's verdict and "why #1 won" are kept with the
reply's candidates in history, so the alternatives view can show them after a resume.

Threading: `load_backend`, `load_scorer`, `generate` and `choose` are slow and run in workers; the
rest is quick bookkeeping called from the UI thread. SQLite is opened with check_same_thread=False and
only ever used by one thread at a time (the UI thread), because workers return results instead of
writing history themselves."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, replace
from typing import Callable, Optional

import numpy as np

from prefchat.chat.history import History, Message
from prefchat.config import Config
from prefchat.errors import PrefchatError
from prefchat.generation.strategies import DEFAULT_STRATEGY, candidate_instructions
from prefchat.llm import GenerationRequest
from prefchat.profiles.profile import Answer, now_iso
from prefchat.profiles.refit import refit
from prefchat.profiles.store import ProfileStore
from prefchat.rerank import Ranked, Reranker, RerankResult


@dataclass
class TurnResult:
    prompt: str
    rerank: RerankResult
    gen_seconds: float
    tokens: int
    n: int
    strategy: str = "plain"
    instructions: Optional[list] = None   # per candidate index: its instruction or None
    why: Optional[str] = None             # the winner's two most separating traits, in words

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.gen_seconds if self.gen_seconds > 0 else 0.0

    def instruction(self, index: int) -> Optional[str]:
        return self.instructions[index] if self.instructions else None

    def as_message(self) -> Message:
        best = self.rerank.best
        cands = []
        for r in self.rerank.ranked:
            c = {"index": r.index, "text": r.text, "score": r.score}
            # Added keys only, so history written before them still reads (c.get(...)).
            if self.instructions is not None:
                c["instruction"] = self.instruction(r.index)
            dropped = dropped_reason(r)
            if dropped:
                c["dropped"] = dropped
            elif getattr(r, "reason", None):  # the guard's note on one kept although it failed
                c["guard_note"] = r.reason
            cands.append(c)
        meta = {"n": self.n, "tokens": self.tokens, "seconds": round(self.gen_seconds, 3),
                "tokens_per_s": round(self.tokens_per_s, 1),
                "rerank_seconds": round(self.rerank.seconds, 4), "strategy": self.strategy}
        if self.rerank.note:
            meta["note"] = self.rerank.note
        if self.why:
            meta["why"] = self.why
        return Message("assistant", best.text, cands, best.index, meta)


def dropped_reason(ranked) -> Optional[str]:
    """Why the guard dropped this candidate (None: it was kept)."""
    if getattr(ranked, "ok", True):
        return None
    return getattr(ranked, "reason", None) or "dropped by the guard"


def resolve_strategy(wanted: str, personalised: bool) -> tuple[str, Optional[str]]:
    """(strategy, notice). "auto" is the measured default with a profile; without a profile every
    strategy but plain has nothing to write instructions from, so plain is used and said."""
    if not personalised:
        if wanted in ("auto", "plain"):
            return "plain", "plain candidates (no profile)"
        return "plain", f"plain candidates ('{wanted}' needs a profile)"
    return (DEFAULT_STRATEGY if wanted == "auto" else wanted), None


@dataclass
class ChoiceResult:
    learned: bool
    old_lambda: Optional[list]
    new_lambda: Optional[list]
    note: str


class ChatSession:
    def __init__(self, cfg: Config, backend, reranker: Reranker, history: Optional[History] = None,
                 profile_name: Optional[str] = None, store=None) -> None:
        self.cfg = cfg
        self.backend = backend
        self.reranker = reranker
        self.history = history
        self.profile_name = profile_name or (reranker.profile.name if reranker.profile else None)
        self.store = store
        self.system_prompt = cfg.system_prompt
        self.messages: list[Message] = []
        self.conv_id: Optional[int] = None
        self._diff_cache: dict[tuple[str, str, str], object] = {}
        self._learn_lock = threading.Lock()
        self.strategy, self.strategy_note = resolve_strategy(cfg.candidates,
                                                             reranker.personalised)

    # -- slow parts (workers) ---------------------------------------------------------------------

    def load_backend(self, progress: Optional[Callable[[str], None]] = None) -> None:
        self.backend.load(progress)

    def load_scorer(self) -> None:
        if self.reranker.personalised:
            self.reranker.load()

    def instructions(self, seed: Optional[int] = None) -> Optional[list]:
        """Per-candidate instructions for the strategy (None for plain). The profile is read at
        each turn, so a pick that refits lambda changes the next turn's card and draws."""
        if self.strategy == "plain" or self.reranker.profile is None:
            return None

        rng = np.random.default_rng(seed)
        out = list(candidate_instructions(self.strategy, self.reranker.profile,
                                          self.reranker.basis, self.cfg.n, rng))
        return out if any(out) else None

    def request(self, seed: Optional[int] = None):
        msgs = []
        if self.system_prompt.strip():
            msgs.append({"role": "system", "content": self.system_prompt})
        msgs += [{"role": m.role, "content": m.content} for m in self.messages]
        return GenerationRequest(msgs, n=self.cfg.n, max_tokens=self.cfg.max_tokens,
                                 temperature=self.cfg.temperature, seed=seed,
                                 instructions=self.instructions(seed))

    def generate(self, on_delta: Optional[Callable[[int, str], None]] = None,
                 cancel: Optional[threading.Event] = None, seed: Optional[int] = None) -> TurnResult:
        """N candidates for the conversation so far (its last message is the user's), reranked."""
        if not self.messages or self.messages[-1].role != "user":
            raise PrefchatError("nothing to reply to")
        prompt = self.messages[-1].content
        req = self.request(seed)
        counted = [0]

        def delta(i: int, text: str) -> None:
            counted[0] += 1
            if on_delta is not None:
                on_delta(i, text)

        t0 = time.perf_counter()
        cands = self.backend.generate(req, delta, cancel)
        gen_s = time.perf_counter() - t0
        tokens = sum(c.n_tokens for c in cands) or counted[0]
        texts = [c.text for c in cands]
        why = None
        try:
            result = self.reranker.rerank(prompt, texts,
                                          finish_reasons=[c.finish_reason for c in cands],
                                          instructions=req.instructions)
            why = self.why(result)
        except Exception as exc:  # noqa: BLE001 - a scorer failure must not throw the replies away
            reason = " ".join(str(exc).split())[:200]
            result = RerankResult([Ranked(i, t, None, i) for i, t in enumerate(texts)], 0.0,
                                  f"reranking failed ({type(exc).__name__}: {reason}); showing the "
                                  "first candidate")
        return TurnResult(prompt, result, gen_s, tokens, len(cands), self.strategy,
                          req.instructions, why)

    @staticmethod
    def why(result: RerankResult) -> Optional[str]:
        """"more concise (+0.81), more casual (+0.30) than candidate 3": the two traits that most
        separated the winner from the runner-up (the reranker works them out), or None."""
        best = result.best
        runner = next((r for r in result.ranked[1:]
                       if not dropped_reason(r) and r.text != best.text), None)
        text = getattr(result, "why_text", "")
        # no text: no runner-up, no profile, a basis without trait axes, or no trait favoured it
        if runner is None or best.score is None or not text:
            return None
        return f"{text} than candidate {runner.index + 1}"

    # -- conversation bookkeeping (UI thread) -------------------------------------------------------

    def _ensure_conversation(self, title: str) -> None:
        if self.history is None or self.conv_id is not None:
            return
        title = " ".join(title.split())[:60]
        self.conv_id = self.history.create(title=title, system_prompt=self.system_prompt,
                                           profile=self.profile_name, backend=self.cfg.backend,
                                           model=self.cfg.model)

    def add_user(self, text: str) -> Message:
        self._ensure_conversation(text)
        msg = Message("user", text)
        self.messages.append(msg)
        if self.history is not None:
            self.history.add_message(self.conv_id, msg)
        return msg

    def add_reply(self, result: TurnResult) -> Message:
        msg = result.as_message()
        self.messages.append(msg)
        if self.history is not None and self.conv_id is not None:
            self.history.add_message(self.conv_id, msg)
        return msg

    def drop_last_user(self) -> str:
        """After a cancel or an error: take the unanswered prompt back out (it goes into the input)."""
        if not self.messages or self.messages[-1].role != "user":
            return ""
        msg = self.messages.pop()
        if self.history is not None and msg.id is not None:
            self.history.delete_message(msg.id)
            if not self.messages and self.conv_id is not None:  # no empty conversations in the list
                self.history.delete(self.conv_id)
                self.conv_id = None
        return msg.content

    def pop_reply_for_regenerate(self) -> Optional[str]:
        """Remove the last reply so it can be generated again; returns its prompt (None: nothing)."""
        if len(self.messages) < 2 or self.messages[-1].role != "assistant":
            return None
        msg = self.messages.pop()
        if self.history is not None and msg.id is not None:
            self.history.delete_message(msg.id)
        return self.messages[-1].content

    def last_reply(self) -> Optional[Message]:
        return next((m for m in reversed(self.messages) if m.role == "assistant"), None)

    def set_system_prompt(self, text: str) -> None:
        self.system_prompt = text
        if self.history is not None and self.conv_id is not None:
            self.history.update(self.conv_id, system_prompt=text)

    def new_conversation(self) -> None:
        self.messages = []
        self.conv_id = None
        self.system_prompt = self.cfg.system_prompt

    def resume(self, conv_id: int) -> None:
        if self.history is None:
            raise PrefchatError("no history store")
        conv = self.history.get(conv_id)
        self.conv_id = conv.id
        self.messages = list(conv.messages)
        self.system_prompt = conv.system_prompt

    # -- choosing another candidate ---------------------------------------------------------------

    def show_candidate(self, msg: Message, index: int) -> Optional[int]:
        """Make candidate `index` the shown reply (UI thread; saves history). Returns the index that
        was shown before, or None when nothing changed."""
        if msg.chosen == index:
            return None
        cand = next((c for c in msg.candidates if c["index"] == index), None)
        if cand is None:
            raise PrefchatError(f"no candidate {index}")
        before = msg.chosen
        msg.chosen = index
        msg.content = cand["text"]
        if self.history is not None and msg.id is not None:
            self.history.update_message(msg)
        return before

    def learn_choice(self, prompt: str, chosen: str, other: str) -> ChoiceResult:
        """Record 'chosen beat other' in the profile and refit lambda over all its answers (worker:
        needs the scorer). Does nothing when learning is off or there is no profile."""
        if not self.cfg.learn_from_choices:
            return ChoiceResult(False, None, None, "learning from choices is off (config "
                                "learn_from_choices)")
        if self.reranker.profile is None or self.profile_name is None:
            return ChoiceResult(False, None, None, "no profile to learn into")

        store = self.store or ProfileStore()
        # The profile lock makes load-refit-save one step against other writers (onboarding, a
        # refit, another chat), so none of their answers is overwritten.
        with self._learn_lock, store.lock(self.profile_name):
            current = store.load(self.profile_name)  # fresh from disk: another app may have added answers
            answers = list(current.answers) + [Answer(prompt, chosen, other, "a", "chat", now_iso())]
            updated = refit(replace(current, answers=answers), self.reranker.basis, self._pair_diffs)
            store.save(updated)
            old = list(self.reranker.profile.lam)
            self.reranker.set_profile(updated)
            return ChoiceResult(True, old, list(updated.lam),
                                f"learned from your pick ({len(answers)} answers in '{updated.name}')")

    def _pair_diffs(self, prompts, a, b):
        keys = list(zip(prompts, a, b))
        missing = [k for k in dict.fromkeys(keys) if k not in self._diff_cache]
        if missing:
            rows = self.reranker.scorer.pair_diffs([k[0] for k in missing], [k[1] for k in missing],
                                                   [k[2] for k in missing])
            for k, row in zip(missing, np.asarray(rows, dtype=np.float64)):
                self._diff_cache[k] = row
        return np.stack([self._diff_cache[k] for k in keys]) if keys else np.zeros((0, 0))
