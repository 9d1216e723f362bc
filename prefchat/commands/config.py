"""`prefchat config show|path|set KEY VALUE`."""

from __future__ import annotations

import typer

from prefchat.config import load_config, set_value, show_toml
from prefchat.paths import config_path

app = typer.Typer(help="Show or change settings (backend, model, n, keys, ...).", no_args_is_help=True)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="config")


@app.command("path")
def path() -> None:
    """Where the config file is (PREFCHAT_CONFIG overrides it)."""
    typer.echo(str(config_path()))


@app.command("show")
def show() -> None:
    """Every setting as TOML, with where it comes from; API keys are masked."""
    typer.echo(show_toml(load_config(), config_path()), nl=False)


@app.command("set")
def set_(key: str = typer.Argument(..., help="Setting name, or keymap.ACTION."),
         value: str = typer.Argument(..., help="New value.")) -> None:
    """Set one value (validated; rewrites the file, so comments in it are not kept)."""
    p = set_value(key, value)
    shown = "****" if key == "api_key" else value
    typer.echo(f"{key} = {shown}  (saved in {p})")
    if key == "api_key":
        typer.echo("Tip: an environment variable (PREFCHAT_API_KEY) keeps the key out of files.",
                   err=True)
