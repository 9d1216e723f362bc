"""The `prefchat` command line. Thin: each group lives in prefchat/commands and imports its heavy
parts lazily, so `prefchat --help` and `--version` never load torch, transformers or llama_cpp."""

from __future__ import annotations

import sys

import typer

from prefchat import __version__
from prefchat.errors import PrefchatError


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


def _register() -> None:
    from prefchat.commands import bench

    app.add_typer(bench.app, name="bench")
    from prefchat.commands import train

    app.command("train")(train.train)
    from prefchat.commands import eval as eval_

    app.command("eval")(eval_.eval_cmd)
    from prefchat.commands import profile
    app.add_typer(profile.app, name="profile")
    from prefchat.commands import onboard
    onboard.register(app)
    from prefchat.commands import ask, chat, config, doctor, models
    chat.register(app)
    ask.register(app)
    config.register(app)
    models.register(app)
    doctor.register(app)
    from prefchat.commands import bench_guard, rank
    rank.register(app)
    bench.app.command("guard")(bench_guard.bench_guard)


_register()


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
