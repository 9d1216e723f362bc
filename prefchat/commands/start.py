"""What bare `prefchat` does: the next step for where you are, never an error for a normal state.

    no profile yet               -> the quiz (in a terminal; otherwise the help and how to start)
    quiz left half-way           -> the quiz again, where it stopped
    profile ready, no model yet  -> one screen saying how to get a model, then chat
    profile and model            -> chat

Imports stay inside the function: `prefchat --help` must not pay for them."""

from __future__ import annotations

import sys

import typer
from rich.console import Console
from rich.panel import Panel
from rich.text import Text

from prefchat.commands.models import recommended
from prefchat.commands.onboard import run_onboarding
from prefchat.config import load_config
from prefchat.errors import PrefchatError
from prefchat.profiles.progress import unfinished_quiz
from prefchat.profiles.store import ProfileStore


def _interactive() -> bool:
    return sys.stdin.isatty() and sys.stdout.isatty()


def root(ctx: typer.Context, chat_command=None) -> None:
    """chat_command is the registered `chat` command, looked up by the caller (typer vendors its own
    click, so an isinstance test against click's classes here would never find it)."""
    store = ProfileStore()
    good, _ = store.list()
    try:
        default = store.get_default()
    except PrefchatError:
        default = None
    ready = [p for p in good if p.answers or p.name == default]
    if not ready:
        if not _interactive():
            typer.echo(ctx.get_help())
            typer.echo("\nNo profile yet: run `prefchat onboard` in a terminal to create one.")
            return
        typer.echo("No profile yet: let's learn what replies you like (about 15 quick questions).")
        _exit_on(run_onboarding())
        return
    prof = next((p for p in ready if p.name == default), ready[0])
    try:
        total = unfinished_quiz(store, prof.name)
    except PrefchatError:
        total = None  # a broken settings.json: chat still works; `prefchat doctor` reports it
    if total is not None:
        done = sum(a.source == "onboard" for a in prof.answers)
        if not _interactive():
            typer.echo(f"Your quiz for profile '{prof.name}' is unfinished ({done} of {total} answered, "
                       "all saved): run `prefchat` or `prefchat onboard` in a terminal to continue.")
            return
        typer.echo(f"Continuing your quiz where you left it ({done} of {total} answered).")
        _exit_on(run_onboarding(profile=prof.name, questions=total))
        return

    if not load_config().model:
        next_steps(prof)
        return
    if chat_command is not None:
        ctx.invoke(chat_command)
        return
    next_steps(prof, model=True)


def _exit_on(code: int) -> None:
    if code:
        raise typer.Exit(code)


def next_steps(prof, model: bool = False) -> None:
    """The screen for "profile ready": what to run next, as commands to copy (one per line, so it
    reads the same at 80 columns as at 200)."""
    t = Text()
    t.append(f"Your profile '{prof.name}' is ready ({len(prof.answers)} answers).")

    def step(cmd: str, what: str) -> None:
        t.append("\n\n  ")
        t.append(cmd, style="bold cyan")
        t.append(f"\n      {what}")

    if not model:
        t.append(" To chat, prefchat needs a model:")
        name, entry = recommended()
        size = entry.get("approx_size", "")
        step(f"prefchat models pull {name} --use",
             f"download a recommended local model{f' ({size})' if size else ''}")
        step("prefchat models add FILE.gguf --use", "or use a GGUF file you already have")
        step("prefchat config set backend openai",
             "or an OpenAI-compatible server (also set base_url and model)")
        t.append("\n\nThen run ")
        t.append("prefchat", style="bold cyan")
        t.append(" again to chat.")
    else:
        step("prefchat chat", "chat with replies picked for you")
    t.append(" Also: ")
    t.append("prefchat profile show", style="bold cyan")
    t.append(" (what it learned), ")
    t.append("prefchat doctor", style="bold cyan")
    t.append(" (what works), ")
    t.append("prefchat --help", style="bold cyan")
    t.append(".")
    Console().print(Panel(t, title="prefchat: next steps", title_align="left", padding=(1, 2)))
