"""`prefchat onboard --plain` and bare `prefchat` as a user runs them: a real subprocess with piped
stdin, so argument parsing, exit codes and the one-line errors are covered end to end."""

from __future__ import annotations

import os
import subprocess
import sys

from .conftest import read_profile


def run(env, args, stdin="", extra_env=None):
    e = dict(os.environ, PREFCHAT_HOME=str(env["home"]), PREFCHAT_BASIS=str(env["basis"]),
             NO_COLOR="1", COLUMNS="100")
    e.update(extra_env or {})
    return subprocess.run([sys.executable, "-m", "prefchat", *args], input=stdin, capture_output=True,
                          text=True, env=e, timeout=120)


def onboard(env, *extra):
    return ["onboard", "--plain", "--corpus", str(env["corpus"]), "--seed", "3", *extra]


def test_piped_answers_with_tie_undo_and_a_typo(quiz_env):
    # a, b, n(tie), u(undo the tie), =(tie), 'x'(typo: asked again), a, b  -> 5 answers, then EOF at
    # the "a few more?" question means finish.
    p = run(quiz_env, onboard(quiz_env, "--questions", "5"), "a\nb\nn\nu\n=\nx\na\nb\n")
    assert p.returncode == 0, p.stderr
    out = p.stdout
    assert "Question 1 of 5" in out and "Question 5 of 5" in out
    assert out.count("Response A") >= 5 and out.count("Response B") >= 5
    assert out.index("Response A") < out.index("Response B")
    assert "Undone" in out and "Please answer a, b or n" in out
    assert "Saved to" in out and "prefchat chat" in out and "concise" in out
    assert "Traceback" not in p.stderr
    d = read_profile(quiz_env)
    assert [a["choice"] for a in d["answers"]] == ["a", "b", "tie", "a", "b"]


def test_eof_quits_keeps_progress_and_the_next_run_resumes(quiz_env):
    p = run(quiz_env, onboard(quiz_env, "--questions", "4"), "a\nb\n")
    assert p.returncode == 1, p.stderr  # unfinished: progress kept, but not done
    assert "Stopped at question 3 of 4" in p.stdout
    assert len(read_profile(quiz_env)["answers"]) == 2
    p = run(quiz_env, onboard(quiz_env, "--questions", "4"), "tie\nb\n")
    assert p.returncode == 0, p.stderr
    assert "Resuming profile 'me' at question 3" in p.stdout and "Question 1 of" not in p.stdout
    assert [a["choice"] for a in read_profile(quiz_env)["answers"]] == ["a", "b", "tie", "b"]


def test_q_quits_and_restart_starts_over(quiz_env):
    p = run(quiz_env, onboard(quiz_env, "--questions", "3"), "a\nq\n")
    assert p.returncode == 1
    p = run(quiz_env, onboard(quiz_env, "--questions", "3", "--restart"), "q\n")
    assert p.returncode == 1 and "nothing was saved" in p.stdout
    assert len(read_profile(quiz_env)["answers"]) == 1  # the old profile survives an empty restart
    p = run(quiz_env, onboard(quiz_env, "--questions", "2", "--restart"), "b\nb\n")
    assert p.returncode == 0
    assert [a["choice"] for a in read_profile(quiz_env)["answers"]] == ["b", "b"]


def test_a_few_more_in_plain_mode(quiz_env):
    p = run(quiz_env, onboard(quiz_env, "--questions", "1"), "a\nm\na\nb\n")
    assert p.returncode == 1  # asked for 5 more, answered 2, then EOF
    assert "Question 2 of 6" in p.stdout
    assert len(read_profile(quiz_env)["answers"]) == 3


def test_bad_input_is_one_line_on_stderr(quiz_env, tmp_path):
    for args, needle in [(onboard(quiz_env, "--questions", "0"), "--questions"),
                         (onboard(quiz_env, "--basis", str(tmp_path / "missing")), "not found"),
                         (onboard(quiz_env, "--profile", "a/b"), "invalid profile name"),
                         (["onboard", "--plain", "--corpus", str(tmp_path / "none.jsonl")], "cannot read")]:
        p = run(quiz_env, args, "a\n")
        assert p.returncode == 2, (args, p.stdout, p.stderr)
        assert needle in p.stderr and "Traceback" not in p.stderr
        assert len(p.stderr.strip().splitlines()) == 1, p.stderr


def test_onboarding_never_imports_torch(quiz_env):
    code = ("import sys\nfrom prefchat.cli import main\n"
            f"sys.argv = ['prefchat', 'onboard', '--plain', '--corpus', {str(quiz_env['corpus'])!r}, "
            "'--questions', '2']\n"
            "code = 0\n"
            "try:\n    main()\nexcept SystemExit as exc:\n    code = exc.code\n"
            "print('RC', code, 'TORCH', 'torch' in sys.modules, file=sys.stderr)\n")
    e = dict(os.environ, PREFCHAT_HOME=str(quiz_env["home"]), PREFCHAT_BASIS=str(quiz_env["basis"]))
    p = subprocess.run([sys.executable, "-c", code], input="a\nb\n", capture_output=True, text=True,
                       env=e, timeout=120)
    # The whole quiz ran (two answers saved, exit 0), so "no torch" is not the trivial result of an
    # early error.
    assert "RC 0 TORCH False" in p.stderr, p.stderr
    assert "Question 2 of 2" in p.stdout, p.stdout
    assert [a["choice"] for a in read_profile(quiz_env)["answers"]] == ["a", "b"]


def test_bare_prefchat_without_a_profile_points_to_onboarding(quiz_env):
    p = run(quiz_env, [])  # stdin is not a terminal here, so it explains instead of starting the quiz
    assert p.returncode == 0
    assert "prefchat onboard" in p.stdout and "Usage" in p.stdout
