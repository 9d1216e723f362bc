"""`prefchat chat` (the TUI) and `prefchat history list|show|delete|export`.

Only typer is imported at module level; config, profiles, textual and the backend load when the
command runs, and the model itself loads in a worker after the first frame is on screen."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from prefchat.chat.factory import load_profile_and_basis, make_session, resolve_config
from prefchat.chat.history import History, export_markdown
from prefchat.config import build_backend
from prefchat.errors import PrefchatError
from prefchat.rerank import check_profile_basis
from prefchat.textsafe import clean

history_app = typer.Typer(help="Saved conversations: list, show, delete, export as Markdown.",
                          no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.command("chat")(chat)
    app.add_typer(history_app, name="history")


CANDIDATES_HELP = ("How candidates differ: plain (samples of one prompt), card (each gets your "
                   "style card), styled (card plus instructions drawn around your taste), the other "
                   "strategies of `prefchat eval --generation`, or auto (the measured best with a "
                   "profile, plain without). Default: config `candidates`, else auto.")


def chat(
    profile: Optional[str] = typer.Option(None, "--profile", "-p",
                                          help="Profile that picks replies (default: the default one)."),
    backend: Optional[str] = typer.Option(None, "--backend", "-b", help="llama | hf | openai"),
    model: Optional[str] = typer.Option(None, "--model", "-m",
                                        help="GGUF path (llama), model dir or hub id (hf), or model "
                                             "name (openai)."),
    n: Optional[int] = typer.Option(None, "-n", help="Candidates per reply (best-of-N)."),
    candidates: Optional[str] = typer.Option(None, "--candidates", "-c", help=CANDIDATES_HELP),
    resume: Optional[int] = typer.Option(None, "--resume", "-r",
                                         help="Continue a saved conversation (id from `prefchat "
                                              "history list`)."),
) -> None:
    """Chat in the terminal; each reply is the best of N candidates for your profile."""
    cfg = resolve_config(backend, model, n, candidates)
    if not cfg.model:
        build_backend(cfg)  # raises the one-line "no model configured" error before any UI
    prof, basis = load_profile_and_basis(profile)  # cheap (JSON); a basis mismatch fails here
    if prof is not None:
        check_profile_basis(prof, basis)
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise PrefchatError("chat needs a terminal; use `prefchat ask` in scripts and pipes")
    from prefchat.tui.chat_app import ChatApp

    app = ChatApp(lambda: make_session(cfg, profile), keymap=cfg.keymap, resume_id=resume)
    app.run()
    # Non-zero when the chat ended on an error: a crash (Textual sets return_code) or a
    # conversation that could not be saved. The reason goes to stderr, after the screen is restored.
    if app.exit_problem:
        typer.echo(f"prefchat: {app.exit_problem}", err=True)
    code = app.return_code or (1 if app.exit_problem else 0)
    if code:
        raise typer.Exit(code)


# --- history ---------------------------------------------------------------------------------------

@history_app.command("list")
def history_list(search: Optional[str] = typer.Option(None, "--search", "-s",
                                                      help="Only conversations containing this text.")
                 ) -> None:
    """Saved conversations, newest first."""
    h = History()
    convs = h.list(search)
    if not convs:
        typer.echo("No saved conversations." if not search else f"No conversation mentions {search!r}.")
        return
    for c in convs:
        typer.echo(f"{c.id:>5}  {c.updated_at}  {c.n_messages:>3} msgs  "
                   f"{clean(c.title) or '(untitled)'}")


@history_app.command("show")
def history_show(conv_id: int = typer.Argument(..., help="Conversation id.")) -> None:
    """Print a conversation as Markdown (escape sequences a model sent are removed)."""
    typer.echo(export_markdown(History().get(conv_id), clean), nl=False)


@history_app.command("delete")
def history_delete(conv_id: int = typer.Argument(..., help="Conversation id.")) -> None:
    """Delete a conversation for good."""
    History().delete(conv_id)
    typer.echo(f"Deleted conversation {conv_id}.")


@history_app.command("export")
def history_export(conv_id: int = typer.Argument(..., help="Conversation id."),
                   output: Optional[Path] = typer.Option(None, "--output", "-o",
                                                         help="File to write (default: stdout).")
                   ) -> None:
    """Export a conversation as Markdown, with control characters written visibly (\\x1b).

    A model's escape sequences are never written raw."""
    text = export_markdown(History().get(conv_id))
    if output is None:
        typer.echo(text, nl=False)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise PrefchatError(f"cannot write {output} ({exc.strerror})") from None
    typer.echo(f"Wrote {output}")
