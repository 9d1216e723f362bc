"""`--help` as a new user reads it, for every command and group (in-process, rich formatting as in a
terminal): flags show no value type, and the one-line summaries in the command lists have no stray
line breaks."""

from __future__ import annotations

import inspect
import re

import pytest
import typer.main
from typer.testing import CliRunner

from prefchat.cli import app


def all_commands():
    root = typer.main.get_command(app)

    def walk(cmd, path):
        yield path, cmd
        for name, sub in sorted(getattr(cmd, "commands", {}).items()):
            yield from walk(sub, path + [name])
    return list(walk(root, []))


COMMANDS = all_commands()


@pytest.mark.parametrize("path", [p for p, _ in COMMANDS], ids=[" ".join(p) or "prefchat" for p, _ in COMMANDS])
def test_help_shows_no_type_for_flags(path):
    r = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "100", "TERM": "xterm"})
    assert r.exit_code == 0, r.output
    assert "<bool>" not in r.output, r.output
    help_row = next(line for line in r.output.splitlines() if re.match(r"^[\s│]*--help\b", line))
    assert re.search(r"--help\s+Show this message", help_row), help_row


@pytest.mark.parametrize("path,cmd", [(p, c) for p, c in COMMANDS if p],
                         ids=[" ".join(p) for p, _ in COMMANDS if p])
def test_summary_is_one_paragraph_line(path, cmd):
    """Typer's rich listing keeps the first paragraph's line breaks: a docstring wrapped there shows
    as a broken row in `prefchat --help` (it did for onboard)."""
    first = inspect.cleandoc(cmd.help or "").split("\n\n")[0]
    assert first and "\n" not in first, f"prefchat {' '.join(path)}: {first!r}"


def test_value_options_keep_their_type():
    r = CliRunner().invoke(app, ["onboard", "--help"], env={"COLUMNS": "100"})
    row = next(line for line in r.output.splitlines() if "--questions" in line)
    assert "<int>" in row
