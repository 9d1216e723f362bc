"""The `prefchat` command line. Thin and lazy, so `prefchat --help` and `--version` take a fraction of
a second: each command's module is imported only when that command runs (or its own --help is
asked), and never torch, transformers or llama_cpp.

Adding a command: add one row to COMMANDS below, (name, where, help), where `where` is
  "prefchat.commands.mod"        the module's register(app) registers `name` (it may add others too),
  "prefchat.commands.mod:func"   a function, registered as the command `name`, or
  "prefchat.commands.mod:app"    a typer.Typer, added as the command group `name`;
and `help` is the first sentence of the command's help, shown by `prefchat --help` without importing
the module (tests/test_cli_lazy.py checks that they match)."""

from __future__ import annotations

import importlib
import os
import sys
import textwrap
from collections.abc import MutableMapping

# Plain help: typer's rich help rendering imports rich.markdown and markdown-it, more than half of
# `prefchat --help`'s time. TYPER_USE_RICH=1 brings the boxed help back.
os.environ.setdefault("TYPER_USE_RICH", "0")

import typer  # noqa: E402 - after the setting above, which typer reads at import
from typer.core import TyperGroup  # noqa: E402

from prefchat import __version__  # noqa: E402
from prefchat.errors import PrefchatError  # noqa: E402

COMMANDS: list[tuple[str, str, str]] = [
    ("train", "prefchat.commands.train:train", "Train a reward basis (SVD initialisation + regularised "
     "Bradley-Terry MLE) and its onboarding pool."),
    ("eval", "prefchat.commands.eval:eval_cmd", "New users: AUC and accuracy vs number of answers (active, "
     "random), with baselines and win rate."),
    ("onboard", "prefchat.commands.onboard", "Answer a few A/B questions so prefchat learns what replies you like."),
    ("chat", "prefchat.commands.chat", "Chat in the terminal; each reply is the best of N candidates for your "
     "profile."),
    ("ask", "prefchat.commands.ask", "Ask once and print the reply your profile likes best."),
    ("doctor", "prefchat.commands.doctor", "Check GPU, backends, model files, basis, profiles and the "
     "configured endpoint."),
    ("bench", "prefchat.commands.bench:app", "Measure speed and quality."),
    ("profile", "prefchat.commands.profile:app", "Manage personal profiles (what you like, as a vector on the "
     "basis)."),
    ("history", "prefchat.commands.chat", "Saved conversations: list, show, delete, export as Markdown."),
    ("config", "prefchat.commands.config", "Show or change settings (backend, model, n, keys, ...)."),
    ("models", "prefchat.commands.models", "Recommended local models: list and download (sha256-checked)."),
    ("rank", "prefchat.commands.rank", "Rank replies by your profile's taste."),
]


def load_command(name: str, where: str):
    """The click command `name`, built by importing its module (see the module docstring)."""
    module, _, attr = where.partition(":")
    mod = importlib.import_module(module)
    scratch = typer.Typer()
    if not attr:
        mod.register(scratch)
    elif isinstance(getattr(mod, attr), typer.Typer):
        scratch.add_typer(getattr(mod, attr), name=name)
    else:
        scratch.command(name)(getattr(mod, attr))
    return typer.main.get_group(scratch).commands[name]


class LazyCommands(MutableMapping):
    """The root group's commands: names known up front, each command built on first access."""

    def __init__(self, specs: list[tuple[str, str, str]]) -> None:
        self.specs = {name: where for name, where, _ in specs}
        self.help = {name: text for name, _, text in specs}
        self.loaded: dict = {}

    def __getitem__(self, name: str):
        if name not in self.loaded:
            if name not in self.specs:
                raise KeyError(name)
            self.loaded[name] = load_command(name, self.specs[name])
        return self.loaded[name]

    def __setitem__(self, name: str, command) -> None:
        self.loaded[name] = command

    def __delitem__(self, name: str) -> None:
        self.specs.pop(name, None)
        del self.loaded[name]

    def __iter__(self):
        yield from self.specs
        yield from (n for n in self.loaded if n not in self.specs)

    def __len__(self) -> int:
        return len(set(self.specs) | set(self.loaded))


class LazyGroup(TyperGroup):
    """A typer group whose commands load on use; its help lists them without loading any."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        eager = dict(self.commands)
        self.commands = LazyCommands(COMMANDS)
        self.commands.update(eager)

    def list_commands(self, ctx) -> list[str]:
        return list(self.commands)

    def format_commands(self, ctx, formatter) -> None:
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(len(n) for n in names)
        rows = []
        for name in names:
            if name in self.commands.loaded:
                cmd = self.commands.loaded[name]
                if not cmd.hidden:
                    rows.append((name, cmd.get_short_help_str(limit)))
            else:
                rows.append((name, textwrap.shorten(self.commands.help[name], limit, placeholder="...")))
        with formatter.section("Commands"):
            formatter.write_dl(rows)



def _flags_without_type() -> None:
    """typer 0.2x's rich help prints a flag's type, so every on/off flag (and --help itself) read
    `--all <bool>` as if it took a value. A flag takes none: show no type for it. Guarded, because
    this is typer's display hook, not an API (older typers lack it and need nothing)."""
    import typer.core

    option = getattr(typer.core, "TyperOption", None)
    shown = getattr(option, "display_type_rich", None)
    if shown is None or getattr(shown, "_prefchat", False):
        return

    def display_type_rich(self, ctx):
        if getattr(self, "is_flag", False) and self.metavar is None:
            return None
        return shown(self, ctx)

    display_type_rich._prefchat = True
    option.display_type_rich = display_type_rich


_flags_without_type()

app = typer.Typer(
    name="prefchat",
    cls=LazyGroup,
    help="A terminal chat that learns what you like from a dozen A/B answers.",
    no_args_is_help=False,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"prefchat {__version__}")
        raise typer.Exit()


@app.callback(invoke_without_command=True)
def _root(ctx: typer.Context,
          version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                       help="Print the version and exit.")) -> None:
    if ctx.invoked_subcommand is None:
        from prefchat.commands.start import root  # lazy: keeps --help fast

        chat = ctx.command.get_command(ctx, "chat") if hasattr(ctx.command, "get_command") else None
        root(ctx, chat)  # the next step: the quiz (new or half done), how to get a model, or chat


def main() -> None:
    """Entry point: user-facing errors become one line on stderr and exit code 2."""
    try:
        app()
    except PrefchatError as exc:
        from prefchat.textsafe import clean  # a message may quote a server or a file

        typer.echo(f"prefchat: error: {clean(str(exc))}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)
