"""The `prefchat` command line. Thin: each group lives in prefchat/commands and imports its heavy
parts lazily, so `prefchat --help` and `--version` never load torch, transformers or llama_cpp."""

from __future__ import annotations

import sys

import typer

from prefchat import __version__
from prefchat.errors import PrefchatError

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
        from prefchat.commands.onboard import root_default  # lazy: keeps --help fast

        chat = ctx.command.get_command(ctx, "chat") if hasattr(ctx.command, "get_command") else None
        root_default(ctx, chat)  # no profile yet: onboarding; otherwise chat (or what to do next)


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
    from prefchat.commands import bench_live
    bench.app.command("onboard-live")(bench_live.bench_onboard_live)


_register()


def main() -> None:
    """Entry point: user-facing errors become one line on stderr and exit code 2."""
    try:
        app()
    except PrefchatError as exc:
        typer.echo(f"prefchat: error: {exc}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)
