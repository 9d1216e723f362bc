"""QuizSession without any UI: saving after every answer, exact resume, undo, restart, display-order
flips, early stop, and a simulated person whose traits the profile must recover."""

from __future__ import annotations

import json

import numpy as np
import pytest

from prefchat.data.corpus import TRAITS, load_corpus
from prefchat.errors import PrefchatError
from prefchat.onboarding.quiz import MIN_BEFORE_EARLY_STOP, leanings

from .conftest import open_quiz, read_profile


def person(env, weights: dict[str, float]):
    """A consistent person: reward = sum of weighted trait labels; ties when rewards are equal."""
    c = load_corpus(env["corpus"])
    w = np.array([weights.get(t, 0.0) for t in TRAITS])

    def choose(q) -> str:
        ra = c.traits[c.response_row(q.a_id)] @ w
        rb = c.traits[c.response_row(q.b_id)] @ w
        return "a" if ra > rb else "b" if rb > ra else "tie"
    return choose


def test_every_answer_is_saved_with_texts_and_refit(quiz_env):
    s = open_quiz(quiz_env, questions=4)
    choices = ["a", "tie", "b", "a"]
    shown = []
    for i, ch in enumerate(choices):
        q = s.current()
        assert q.number == i + 1
        shown.append(q)
        path = s.answer(ch)
        d = read_profile(quiz_env)
        assert len(d["answers"]) == i + 1  # on disk after every single answer
        np.testing.assert_allclose(d["lambda"], s.elicitor.lam)
    assert s.done and s.current() is None
    assert path == quiz_env["home"] / "profiles" / "me.json"
    assert (path.stat().st_mode & 0o777) == 0o600
    d = read_profile(quiz_env)
    assert [a["choice"] for a in d["answers"]] == choices
    assert all(a["source"] == "onboard" for a in d["answers"])
    assert [(a["prompt"], a["a"], a["b"]) for a in d["answers"]] == [(q.prompt, q.a, q.b) for q in shown]
    assert len({q.prompt_id for q in shown}) == 4  # no prompt twice
    assert d["basis"]["dims"] == 8 and len(d["precision"]) == 8
    # the first saved profile becomes the default, so bare `prefchat` finds it
    assert json.loads((quiz_env["home"] / "settings.json").read_text())["default_profile"] == "me"


def test_answer_a_means_the_shown_a_whatever_the_pool_order(quiz_env):
    s = open_quiz(quiz_env, questions=40)
    flips = set()
    for _ in range(12):
        q = s.current()
        shown_diff = s.pool.diffs[q.index] * (-1 if q.flipped else 1)  # phi(shown A) - phi(shown B)
        before = float(s.elicitor.lam @ shown_diff)
        s.answer("a")
        assert float(s.elicitor.lam @ shown_diff) > before  # the model now likes A more than before
        flips.add(q.flipped)
    assert flips == {True, False}  # both display orders occurred, so both branches were checked


def test_resume_after_quitting_at_question_9_continues_at_question_10(quiz_env):
    choose = person(quiz_env, {"humour": 1.0})
    s = open_quiz(quiz_env, questions=15)
    for _ in range(9):
        s.answer(choose(s.current()))
    expected_next = s.current()
    lam = s.elicitor.lam.copy()
    del s  # "quit" (or crash): only the file remains

    r = open_quiz(quiz_env, questions=15, seed=12345)  # a new seed must not matter once answered
    assert r.answered == 9 and r.resumed == 9
    np.testing.assert_allclose(r.elicitor.lam, lam, rtol=0, atol=1e-12)
    q = r.current()
    assert q.number == 10 and (q.index, q.a, q.b) == (expected_next.index, expected_next.a, expected_next.b)
    r.answer(choose(q))
    assert len(read_profile(quiz_env)["answers"]) == 10


def test_undo_forgets_the_answer_on_disk_and_asks_the_same_pair_again(quiz_env):
    s = open_quiz(quiz_env)
    assert s.undo() is False
    first = s.current()
    s.answer("a")
    second = s.current()
    s.answer("b")
    assert s.undo() is True
    assert s.current().index == second.index
    assert [a["choice"] for a in read_profile(quiz_env)["answers"]] == ["a"]
    assert s.undo() is True
    assert s.current().index == first.index  # the random first question is re-asked, not redrawn
    assert read_profile(quiz_env)["answers"] == []
    np.testing.assert_allclose(s.elicitor.lam, np.zeros(8))


def test_restart_keeps_the_old_profile_until_the_first_new_answer(quiz_env):
    s = open_quiz(quiz_env)
    for _ in range(3):
        s.answer("a")
    old = read_profile(quiz_env)
    r = open_quiz(quiz_env, restart=True)
    assert r.answered == 0
    assert read_profile(quiz_env) == old  # opening with --restart writes nothing
    r.answer("b")
    new = read_profile(quiz_env)
    assert [a["choice"] for a in new["answers"]] == ["b"]


def test_a_finished_profile_opens_done_and_can_take_a_few_more(quiz_env):
    s = open_quiz(quiz_env, questions=3)
    for _ in range(3):
        s.answer("a")
    r = open_quiz(quiz_env, questions=3)
    assert r.done and r.current() is None and r.can_extend()
    r.extend()
    assert r.total == 8 and r.current().number == 4


def test_early_stop_once_settled(quiz_env):
    s = open_quiz(quiz_env, questions=40, stop_sd=10.0)  # any sd is below 10: stop at the minimum
    while not s.done:
        s.answer("a")
    assert s.stopped_early and s.answered == MIN_BEFORE_EARLY_STOP
    s.extend(2)
    assert not s.done and s.total == MIN_BEFORE_EARLY_STOP + 2


def test_settled_grows_as_answers_come_in(quiz_env):
    s = open_quiz(quiz_env, questions=15)
    fracs = [s.settled().fraction]
    for _ in range(15):
        s.answer("a" if len(fracs) % 2 else "b")
        fracs.append(s.settled().fraction)
    assert fracs[0] == 0.0 and fracs[-1] > 0.3
    assert fracs[-1] > fracs[5] > fracs[0]


def test_consistent_concise_and_confident_person_is_recovered(quiz_env):
    """The fixture basis is derived from the corpus trait labels through a random rotation (see
    conftest), so the named axes are exactly the traits this person answers by. After the default
    15 questions the two traits they care about must stand out with the right signs, and no other
    trait may look like a preference."""
    choose = person(quiz_env, {"length": -1.0, "confidence": 1.0})
    s = open_quiz(quiz_env, questions=15)
    while not s.done:
        s.answer(choose(s.current()))
    rows = {r["trait"]: r for r in s.rows()}
    assert rows["length"]["value"] < 0 and rows["confidence"]["value"] > 0
    top = sorted(rows, key=lambda t: -abs(rows[t]["value"]))[:2]
    assert set(top) == {"length", "confidence"}
    weakest_wanted = min(abs(rows["length"]["value"]), abs(rows["confidence"]["value"]))
    for t, r in rows.items():
        if t not in ("length", "confidence"):
            assert abs(r["value"]) < 0.5 * weakest_wanted, (t, r["value"])
            assert abs(r["value"]) < 2 * r["sd"]  # not distinguishable from indifference
    poles = [p for p, _ in leanings(s.rows())]
    assert poles[:2] in (["concise", "confident"], ["confident", "concise"])
    # the saved profile says the same thing
    d = read_profile(quiz_env)
    np.testing.assert_allclose(d["lambda"], s.elicitor.lam)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_recovery_does_not_depend_on_the_random_first_question(quiz_env, seed):
    choose = person(quiz_env, {"length": -1.0, "confidence": 1.0})
    s = open_quiz(quiz_env, questions=15, seed=seed, profile=f"s{seed}")
    while not s.done:
        s.answer(choose(s.current()))
    rows = {r["trait"]: r["value"] for r in s.rows()}
    assert rows["length"] < 0 < rows["confidence"]
    assert set(sorted(rows, key=lambda t: -abs(rows[t]))[:2]) == {"length", "confidence"}


# -- problems become one-line errors --------------------------------------------------------------

def test_profile_from_another_basis_is_refused_with_the_fix(quiz_env, tmp_path):
    from .conftest import write_trait_basis

    s = open_quiz(quiz_env)
    s.answer("a")
    other = write_trait_basis(tmp_path / "other", quiz_env["corpus"], name="other", seed=99)
    from prefchat.onboarding.quiz import open_session

    with pytest.raises(PrefchatError, match="--restart"):
        open_session(basis=other, corpus=quiz_env["corpus"])


def test_answers_that_are_not_quiz_questions_are_not_silently_dropped(quiz_env):
    from prefchat.profiles.profile import Answer, new_profile
    from prefchat.profiles.store import ProfileStore

    s = open_quiz(quiz_env)
    s.answer("a")
    p = s.profile()
    extra = Answer("what about chat?", "x", "y", "a", "chat", p.answers[0].at)
    ProfileStore().save(new_profile("me", p.basis.name, p.basis.fingerprint, p.lam_array(),
                                    p.precision_array(), [*p.answers, extra]))
    with pytest.raises(PrefchatError, match="1 answers from chat"):
        open_quiz(quiz_env)


def test_pool_that_does_not_match_the_corpus(quiz_env, tmp_path):
    from .conftest import write_corpus

    other = write_corpus(tmp_path / "other.jsonl", n_prompts=3)
    text = other.read_text().replace('"p00', '"q00')
    other.write_text(text)
    with pytest.raises(PrefchatError, match="--corpus"):
        open_quiz(quiz_env | {"corpus": other})


def test_bad_arguments(quiz_env):
    with pytest.raises(PrefchatError, match="--questions"):
        open_quiz(quiz_env, questions=0)
    with pytest.raises(PrefchatError, match="profile name"):
        open_quiz(quiz_env, profile="../evil")
    s = open_quiz(quiz_env)
    with pytest.raises(PrefchatError, match="answer must be"):
        s.answer("maybe")


# -- the default quiz: cost-aware, about five minutes of reading ------------------------------------

def test_default_quiz_is_cost_aware_and_ends_on_its_words_budget(quiz_env, monkeypatch):
    import prefchat.onboarding.quiz as quiz
    from prefchat.data.reading import WORDS_PER_MINUTE

    monkeypatch.setattr(quiz, "DEFAULT_WORDS", 250)  # the fixture's pairs are short (~30 words)
    s = open_quiz(quiz_env)
    assert s.words_budget == 250 and s.total == quiz.QUIZ_MAX_QUESTIONS
    first = s.current()
    assert first.words < 150 and s.costs[first.index] == first.words
    p = s.progress()
    assert p.approx and p.number == 1 and p.line().startswith("Question 1 of ~")
    assert first.words <= p.minutes_left * WORDS_PER_MINUTE <= 250  # never more than the budget left
    read = []
    while not s.done:
        q = s.current()
        read.append(q.words)
        s.answer("a")
    assert s.words_read == sum(read) <= 250
    assert s.answered < quiz.QUIZ_MAX_QUESTIONS  # the words ran out first
    # nothing left fits: every unasked pair would run past the budget
    left = 250 - s.words_read
    assert not np.any(s.elicitor.available() & (s.costs <= left))
    s.extend(2)  # "a few more" lifts the budget
    assert not s.done and s.words_budget is None and s.total == s.answered + 2


def test_cost_aware_quiz_reads_fewer_words_than_active_for_the_same_answers(quiz_env):
    from prefchat.reward.elicit import Elicitor

    s = open_quiz(quiz_env, questions=10)
    while not s.done:
        s.answer("a")
    mean, prec = s.basis.prior
    act = Elicitor(s.pool.diffs, s.pool.prompt_ids, beta=prec, prior_mean=mean, seed=7, costs=s.costs)
    for _ in range(10):
        act.answer(act.next_question(), 1.0)
    assert s.words_read < act.words_read()


def test_progress_with_a_fixed_number_of_questions(quiz_env):
    s = open_quiz(quiz_env, questions=4)
    p = s.progress()
    assert (p.number, p.of, p.approx) == (1, 4, False) and p.line().startswith("Question 1 of 4  ·  ")
    s.answer("a")
    s.answer("b")
    p = s.progress()
    avg = s.words_read / 2
    assert p.number == 3 and p.minutes_left == pytest.approx(2 * avg / 250)
