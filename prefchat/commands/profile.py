"""`prefchat profile ...`: list, show, use, rename, delete, export, import, refit.

Thin wrappers over prefchat.profiles. Heavy parts (numpy, rich, the basis scorer with torch) are
imported inside the commands, so `prefchat --help` stays fast. Bad input raises PrefchatError, which
cli.main() prints as one line with exit code 2."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from prefchat.basis import TRAIT_POLES, load_basis
from prefchat.paths import shipped_models_dir
from prefchat.errors import PrefchatError
from prefchat.generation.card import style_card
from prefchat.generation.traits import estimate
from prefchat.profiles.exchange import chat_answers, export_bytes, export_to_file, import_profile, read_profile_file
from prefchat.profiles.refit import refit
from prefchat.profiles.store import ProfileChanged, ProfileStore
from prefchat.tui.profile_view import render

app = typer.Typer(help="Manage personal profiles (what you like, as a vector on the basis).",
                  no_args_is_help=True)

BASIS_HELP = "Basis name or directory (default: $PREFCHAT_BASIS or the shipped one)."


def _store():
    return ProfileStore()


def _pair_diffs(basis):
    """Features for a refit. The scorer loads the encoder (torch), so it is created only if called."""
    def fn(prompts, a_texts, b_texts):
        return basis.scorer().pair_diffs(prompts, a_texts, b_texts)
    return fn


def _err(msg: str) -> None:
    typer.echo(msg, err=True)


@app.command("list")
def list_cmd() -> None:
    """List profiles; '*' marks the default. Unreadable files are named on stderr."""
    store = _store()
    good, bad = store.list()
    try:
        default = store.get_default()
    except Exception as exc:  # a broken settings file must not hide the profiles  # noqa: BLE001
        default = None
        _err(f"prefchat: warning: {exc}")
    if not good and not bad:
        typer.echo(f"no profiles yet in {store.dir} (run onboarding, or `prefchat profile import FILE`)")
    for p in good:
        mark = "*" if p.name == default else " "
        typer.echo(f"{mark} {p.name:<24} basis {p.basis.name:<12} {len(p.answers):>4} answers  "
                   f"updated {p.updated_at}")
    for prob in bad:
        _err(f"prefchat: warning: skipped {prob.file}: {prob.reason}; {prob.fix}")


@app.command("show")
def show_cmd(name: Optional[str] = typer.Argument(None, help="Profile (default: the default one)."),
             basis: Optional[str] = typer.Option(None, "--basis", help=BASIS_HELP)) -> None:
    """Show a profile as labelled trait bars."""
    store = _store()
    try:
        default = store.get_default()
    except PrefchatError as exc:  # a broken settings file only matters if no NAME was given
        if not name:
            raise
        default = None
        _err(f"prefchat: warning: {exc}")
    name = name or default
    if not name:
        raise PrefchatError("no default profile; name one, or set it with `prefchat profile use NAME`")
    prof = store.load(name)
    b = None
    # Prefer the shipped basis the profile names, then the configured one; show raw lambda if neither
    # loads, rather than failing: the profile itself is fine.
    cands = [basis] if basis else [shipped_models_dir() / prof.basis.name, None]
    for cand in cands:
        try:
            b = load_basis(cand)
        except (PrefchatError, KeyError, TypeError, ValueError):  # a broken basis.json, too
            if basis:
                raise
            continue
        if b.fingerprint == prof.basis.fingerprint:
            break
    Console().print(render(prof, b, is_default=(name == default)))


@app.command("use")
def use_cmd(name: str = typer.Argument(..., help="Profile to make the default.")) -> None:
    """Make NAME the default profile."""
    _store().set_default(name)
    typer.echo(f"default profile is now '{name}'")


@app.command("rename")
def rename_cmd(old: str, new: str) -> None:
    """Rename a profile (the default follows it)."""
    _store().rename(old, new)
    typer.echo(f"renamed '{old}' to '{new}'")


@app.command("delete")
def delete_cmd(name: str,
               yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation.")) -> None:
    """Delete a profile (asks first unless --yes)."""
    store = _store()
    path = store.path_for(name)
    if not path.exists():
        store.load(name)  # raises the standard 'no profile named' message
    if not yes and not typer.confirm(f"Delete profile '{name}' ({path})? This cannot be undone"):
        typer.echo("not deleted")
        raise typer.Exit(1)
    store.delete(name)
    typer.echo(f"deleted '{name}'")


@app.command("export")
def export_cmd(name: str,
               output: Optional[Path] = typer.Option(None, "-o", "--output",
                                                     help="File to write (default: stdout)."),
               vector_only: bool = typer.Option(False, "--vector-only",
                                                help="Leave out your answers (private); the result "
                                                     "cannot be refitted on another basis."),
               no_chat_text: bool = typer.Option(False, "--no-chat-text",
                                                 help="Leave out the answers learned from chat "
                                                      "(your prompts and the model's replies); "
                                                      "lambda still includes them."),
               force: bool = typer.Option(False, "--force", help="Replace FILE if it exists.")) -> None:
    """Export a profile as JSON (the profile format of docs/FORMATS.md).

    A plain export carries every answer as text: your onboarding answers and, from learning from
    your picks in chat, the raw chat prompts you typed and the model replies you compared. Use
    --no-chat-text to leave those out (lambda, which already includes them, is kept), or
    --vector-only to leave out all answers."""
    prof = _store().load(name)
    n_chat = 0 if (vector_only or no_chat_text) else chat_answers(prof)
    if output is None or str(output) == "-":
        sys.stdout.buffer.write(export_bytes(prof, vector_only, no_chat_text))
        sys.stdout.buffer.flush()
    else:
        export_to_file(prof, output, vector_only, force, no_chat_text)
        _err(f"exported '{name}' to {output}" + (" (without answers)" if vector_only else
                                                  " (without chat text)" if no_chat_text else ""))
    if n_chat:
        _err(f"prefchat: note: this export contains {n_chat} chat prompt{'s' if n_chat != 1 else ''} "
             "and model replies from learning from your picks; --no-chat-text leaves them out")


@app.command("import")
def import_cmd(file: str = typer.Argument(..., help="Profile JSON file ('-' for stdin)."),
               as_name: Optional[str] = typer.Option(None, "--as", help="Store under this name."),
               force: bool = typer.Option(False, "--force", help="Replace an existing profile."),
               basis: Optional[str] = typer.Option(None, "--basis", help=BASIS_HELP)) -> None:
    """Import a profile file; a profile from another basis is refitted from its answers."""
    prof = read_profile_file(file)  # validate first: a bad file fails fast, before loading a basis
    b = load_basis(basis)
    res = import_profile(_store(), prof, b, _pair_diffs(b), as_name, force)
    for note in res.notes:
        _err(f"prefchat: note: {note}")
    typer.echo(f"imported '{res.profile.name}' to {res.path}")


@app.command("refit")
def refit_cmd(name: str, basis: Optional[str] = typer.Option(None, "--basis", help=BASIS_HELP)) -> None:
    """Refit a profile's lambda from its answers on a basis (e.g. after upgrading the basis)."""
    store = _store()
    b = load_basis(basis)
    diffs = _pair_diffs(b)
    # The refit is slow (it may load the encoder), so it runs without the lock and the write checks
    # the revision it started from: if onboarding or the chat added answers meanwhile, refit again
    # on the new answers instead of writing back the old ones.
    for _ in range(5):
        prof, rev = store.read(name)
        new = refit(prof, b, diffs)
        try:
            store.save(new, overwrite=True, revision=rev)
            break
        except ProfileChanged:
            _err(f"prefchat: note: '{name}' changed while refitting (new answers); refitting again")
    else:
        raise PrefchatError(f"profile '{name}' kept changing while refitting; try again when "
                            "onboarding or chat is done with it")
    typer.echo(f"refitted '{name}' on basis '{b.name}' ({b.dims} dims) from {len(new.answers)} answers")


@app.command("card")
def card_cmd(name: Optional[str] = typer.Argument(None, help="Profile (default: the default one)."),
             basis: Optional[str] = typer.Option(None, "--basis", help=BASIS_HELP)) -> None:
    """Print the profile's style card, a one-line instruction for any assistant's custom instructions.

    The card alone goes to stdout; what it rests on goes to stderr."""
    store = _store()
    name = name or store.get_default()
    if not name:
        raise PrefchatError("no default profile; name one, or set it with `prefchat profile use NAME`")
    prof = store.load(name)
    b = None
    for cand in ([basis] if basis else [shipped_models_dir() / prof.basis.name, None]):
        try:
            b = load_basis(cand)
        except PrefchatError:
            if basis:
                raise
            continue
        if b.fingerprint == prof.basis.fingerprint:
            break
    card = style_card(prof, b)
    if not card.text:  # nothing to paste: stdout stays empty, and the reason is not an error
        _err(f"prefchat: profile '{name}' has an empty card: {card.why_empty}")
        raise typer.Exit(1)
    typer.echo(card.text)
    est = estimate(prof, b)
    src = (f"{est.n_answers} labelled quiz answers" if est.source == "answers"
           else f"lambda through the axes of basis '{b.name}'")
    leans = ", ".join(f"{TRAIT_POLES[x.trait][1 if x.sign > 0 else 0]} ({x.strength:.1f} sd)"
                      for x in card.leanings)
    _err(f"leanings: {leans} — from {src}; only leanings more than one posterior sd from zero are named")
