"""`prefchat onboard`: the A/B quiz that learns your profile (lambda), and what bare `prefchat` does.

Start-up matters here (target: first question within a second on 2 cores), so this module imports only
typer at import time; the quiz pulls in numpy, the basis pool, the corpus and textual when it runs,
and never torch: the pool's pair differences were precomputed with the basis."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from prefchat.basis import load_basis
from prefchat.errors import PrefchatError
from prefchat.onboarding.live import LiveDriver, from_config
from prefchat.onboarding.quiz import open_session
from prefchat.tui.plain import EXIT_UNSAVED, run_plain

EXIT_STOPPED = 1  # the quiz was left unfinished; every answer so far is saved


def register(app: typer.Typer) -> None:
    app.command("onboard")(onboard)


def onboard(
    profile: Optional[str] = typer.Option(None, "--profile", "-p",
                                          help="Profile name (default: the default profile, or 'me')."),
    questions: Optional[int] = typer.Option(None, "--questions", "-n",
                                            help="Ask exactly N questions (default: about five minutes of "
                                                 "reading, at most 15 questions)."),
    live: bool = typer.Option(False, "--live",
                              help="Also ask live questions: your model writes two replies to a prompt you "
                                   "type (the configured backend; pool questions while it loads)."),
    restart: bool = typer.Option(False, "--restart",
                                 help="Start over. The old profile is kept until your first new answer."),
    plain: bool = typer.Option(False, "--plain",
                               help="Plain text on stdin/stdout (one line per answer; can be piped)."),
    basis: Optional[str] = typer.Option(None, "--basis",
                                        help="Basis name or directory (default: $PREFCHAT_BASIS or the "
                                             "shipped one)."),
    corpus: Optional[Path] = typer.Option(None, "--corpus",
                                          help="Corpus file the basis pool was built from (default: the "
                                               "shipped corpus)."),
    stop_sd: Optional[float] = typer.Option(None, "--stop-sd",
                                            help="Finish early once the mean uncertainty (posterior sd) of "
                                                 "the named traits drops below this."),
    seed: Optional[int] = typer.Option(None, "--seed", hidden=True,
                                       help="Seed for the first (random) question; for tests."),
) -> None:
    """Answer a few A/B questions so prefchat learns what replies you like.

    Progress is saved after every answer: run it again to continue where you left off."""
    code = run_onboarding(profile=profile, questions=questions, restart=restart, plain=plain,
                          basis=basis, corpus=corpus, stop_sd=stop_sd, seed=seed, live=live)
    if code:
        raise typer.Exit(code)


def _resume_diffs(basis):
    """phi differences for saved live answers when resuming with --live (loads the scorer: torch)."""
    def fn(prompts, a, b):
        return load_basis(basis).scorer().pair_diffs(list(prompts), list(a), list(b))
    return fn


def live_driver(session, seed=None):
    """The LiveDriver for --live on the configured backend; an 'off' driver (with its one-line note)
    when no backend can be built, so the quiz still runs on the pool."""
    try:
        return LiveDriver(from_config(session.basis, seed=seed))
    except PrefchatError as exc:
        return LiveDriver.unavailable(exc)


def run_onboarding(profile=None, questions=None, restart=False, plain=False, basis=None, corpus=None,
                   stop_sd=None, seed=None, live=False) -> int:
    def loader():
        return open_session(profile=profile, basis=basis, corpus=corpus, questions=questions,
                            restart=restart, seed=seed, stop_sd=stop_sd,
                            pair_diffs_fn=_resume_diffs(basis) if live else None)

    # A full-screen app needs a terminal on both ends; piped input gets the line-based quiz instead.
    if plain or not (sys.stdin.isatty() and sys.stdout.isatty()):
        s = loader()
        driver = live_driver(s, seed) if live else None
        return run_plain(s, sys.stdin, Console(), driver, wait_for_model=not sys.stdin.isatty(),
                         ahead=sys.stdin.isatty())

    from prefchat.tui.onboard_app import OnboardApp

    outcome = OnboardApp(loader, (lambda sess: live_driver(sess, seed)) if live else None).run()
    if outcome is None:  # the app was closed before it finished loading
        return EXIT_STOPPED
    if outcome.status == "error":
        raise PrefchatError(outcome.error)
    s = outcome.session
    if outcome.lost:
        typer.echo(f"prefchat: {outcome.lost}", err=True)
        return EXIT_UNSAVED
    if outcome.status == "done":
        typer.echo(f"Profile '{s.name}' saved to {s.path}\nNext: prefchat chat")
        return 0
    if s is not None and s.answered:
        of = f" of {s.total}" if s.words_budget is None else ""
        typer.echo(f"Stopped at question {s.answered + 1}{of}; your {s.answered} answers are "
                   f"saved in {s.path}. Run `prefchat onboard` to continue.")
    else:
        typer.echo("Stopped before the first answer; nothing was saved.")
    return EXIT_STOPPED

