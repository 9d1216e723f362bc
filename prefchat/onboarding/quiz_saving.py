"""Saving and resuming the onboarding quiz (the QuizSession's profile side, kept apart from the
question logic in quiz.py): the profile an answer produces, saves that merge answers other writers
added (profile lock + revision check), and replaying a saved profile to resume exactly.

A mixin: it reads the session's state (answers, elicitor, pool, corpus, store, name, ...) that
QuizSession.__init__ sets up."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from prefchat.errors import PrefchatError
from prefchat.onboarding.live import LivePair
from prefchat.profiles.profile import new_profile
from prefchat.profiles.store import ProfileChanged, answer_key, merge_answers
from prefchat.reward.elicit import fit_lambda

OUTCOME = {"a": 1.0, "b": 0.0, "tie": 0.5}  # P(displayed A preferred); ties count as 0.5 (docs/FORMATS.md, Corpus)


class QuizSaving:
    # -- profile -------------------------------------------------------------------------------------

    def profile(self):
        lam, prec = self.elicitor.lam, self.elicitor.precision
        if self.foreign:
            lam, prec = self._fit_with_foreign()
        return new_profile(self.name, self.basis.name, self.basis.fingerprint, lam, prec,
                           self.answers + self.foreign, created_at=self.created_at)

    @property
    def unsaved(self) -> int:
        """How many of this quiz's answers are not on disk (0 after a successful save)."""
        if self.save_error is None:
            return 0
        return sum(answer_key(a) not in self._saved_keys for a in self.answers)

    def save(self) -> Path:
        """Write the profile atomically (the old file survives any crash mid-write), merging any
        answers another prefchat saved to the same profile meanwhile (a second quiz, the chat), so
        concurrent writers never lose each other's answers. On failure the answers stay in memory,
        `save_error` says why, and the next save (next answer, undo or quit) tries again. The first
        save also makes it the default profile when there is none, so `prefchat` finds it."""
        try:
            with self.store.lock(self.name):
                current, rev = self.store.read_optional(self.name)
                if self.revision is None:  # first save of a --restart quiz: the file is replaced
                    self.base_answers = list(current.answers) if current else []
                elif rev != self.revision and current is not None:
                    merged = merge_answers(self.base_answers, self.answers + self.foreign,
                                           current.answers)
                    self.foreign += merged[len(self.answers) + len(self.foreign):]
                prof = self.profile()
                self.saved_path = self.store.save(prof, revision=rev)
                self.created_at = prof.created_at
                self.base_answers = list(prof.answers)
                self.revision = self.store.read(self.name)[1]
        except ProfileChanged as exc:  # cannot happen under the lock, but never lose answers
            self.save_error = str(exc)
            raise
        except PrefchatError as exc:
            self.save_error = str(exc)
            raise
        self.save_error = None
        self._saved_keys = {answer_key(a) for a in self.answers}
        try:
            if self.store.get_default() is None:
                self.store.set_default(self.name)
        except (PrefchatError, OSError):
            pass  # a broken settings.json must not lose the answer; `prefchat profile use` fixes it
        try:  # so that bare `prefchat` resumes a quiz left half-way (prefchat/profiles/progress.py)
            from prefchat.profiles.progress import record_quiz

            record_quiz(self.store, self.name, None if self.done else self.total)
        except (PrefchatError, OSError):
            pass
        return self.saved_path

    def _fit_with_foreign(self):
        """lambda over this quiz's answers plus those another writer added: pool rows give their
        pair differences (texts matched as in replay); answers from elsewhere (the chat) have no
        pool row and stay in the file for the next refit."""
        index = self._pool_index()
        v, y = [], []
        for a in self.answers + self.foreign:
            hit = index.get((a.prompt, a.a, a.b))
            if hit is None:
                continue
            row, flipped = hit
            out = OUTCOME[a.choice]
            v.append(self.pool.diffs[row])
            y.append(1.0 - out if flipped else out)
        mean, precision = self.basis.prior
        if not v:
            return mean, precision
        return fit_lambda(np.asarray(v, dtype=np.float64), np.asarray(y), beta=precision,
                          prior_mean=mean)

    def _pool_index(self) -> dict:
        """(prompt, a, b) texts -> (pool row, flipped), in both display orders."""
        index: dict[tuple[str, str, str], tuple[int, bool]] = {}
        c, p = self.corpus, self.pool
        for i in range(len(p.prompt_ids)):
            pt = c.prompt_text(str(p.prompt_ids[i]))
            at, bt = c.response_text(str(p.a_ids[i])), c.response_text(str(p.b_ids[i]))
            index.setdefault((pt, at, bt), (i, False))
            index.setdefault((pt, bt, at), (i, True))
        return index

    @property
    def path(self) -> Path:
        return self.store.path_for(self.name)

    def rows(self) -> list[dict]:
        """The profile along the basis' named traits (value and posterior sd per trait)."""
        return self.basis.describe(self.elicitor.lam, self.elicitor.precision)

    # -- resume --------------------------------------------------------------------------------------

    def replay(self, profile, revision: str | None = None, pair_diffs_fn=None) -> None:
        """Rebuild the state from a saved profile's onboarding answers (exact: see module doc).
        pair_diffs_fn(prompts, a, b) -> phi differences, for answers to live questions (None: such
        answers are refused with the fix)."""
        self.revision = revision
        index = self._pool_index()
        unmatched = [a for a in profile.answers if (a.prompt, a.a, a.b) not in index]
        live = [a for a in unmatched if a.source == "onboard"]
        if live and pair_diffs_fn is not None and len(live) == len(unmatched):
            d = np.asarray(pair_diffs_fn([a.prompt for a in live], [a.a for a in live], [a.b for a in live]),
                           dtype=np.float64)
            live_diffs = {id(a): row for a, row in zip(live, d)}
            unmatched = []
        else:
            live_diffs = {}
        if unmatched:
            why = ("answers from chat" if all(a.source == "chat" for a in unmatched)
                   else "answers that are not questions of this quiz")
            hint = (" (answers to live questions: continue with `prefchat onboard --live`)"
                    if any(a.source == "onboard" for a in unmatched) else "")
            raise PrefchatError(f"profile '{profile.name}' has {len(unmatched)} {why}{hint}; onboarding "
                                f"would refit without them. Start over with --restart (the old profile is "
                                f"kept until your first new answer) or pick another --profile NAME")
        for a in profile.answers:
            if id(a) in live_diffs:
                self._record_live(LivePair(a.prompt, a.a, a.b, live_diffs[id(a)]), a.choice)
                self.answers.append(a)
                continue
            idx, flipped = index[(a.prompt, a.a, a.b)]
            # A prompt answered twice is legitimate: two quizzes that ran at the same time on this
            # profile were merged (see save), each asking its own questions. Both answers count.
            self._record(idx, flipped, a.choice)
            self.answers.append(a)
        self.created_at = profile.created_at
        self.resumed = len(profile.answers)
        self.saved_path = self.path
        self.base_answers = list(profile.answers)
        self._saved_keys = {answer_key(a) for a in profile.answers}
