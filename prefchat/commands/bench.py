"""`prefchat bench ...`: measurements, printed as tables (and JSON with --json)."""

from __future__ import annotations

import typer

from prefchat.commands.bench_basis import bench_basis
from prefchat.commands.bench_engine import bench_engine
from prefchat.commands.bench_flood import bench_flood
from prefchat.commands.bench_generate import bench_generate
from prefchat.commands.bench_guard import bench_guard
from prefchat.commands.bench_live import bench_onboard_live
from prefchat.commands.bench_llama_step import bench_llama_step
from prefchat.commands.bench_startup import bench_chat, bench_cli, bench_onboard

app = typer.Typer(help="Measure speed and quality.", no_args_is_help=True)


def _register() -> None:
    # Each benchmark lives in a module named for what it measures (typer only at import: cheap).
    # The order here is the order `prefchat bench --help` lists them in.

    app.command("engine")(bench_engine)
    app.command("generate")(bench_generate)
    app.command("llama-step")(bench_llama_step)
    app.command("onboard")(bench_onboard)
    app.command("onboard-live")(bench_onboard_live)
    app.command("chat")(bench_chat)
    app.command("cli")(bench_cli)
    app.command("basis")(bench_basis)
    app.command("flood")(bench_flood)
    app.command("guard")(bench_guard)


_register()
