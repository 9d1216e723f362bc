"""`prefchat --help` stays cheap: no command module, no heavy library and no rich help renderer is
imported for it; the help it prints without importing a command matches each command's own help;
and every command still loads and runs when asked for."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from prefchat.cli import COMMANDS, app, load_command

HEAVY = ("torch", "transformers", "llama_cpp", "openai", "matplotlib", "textual", "numpy",
         "typer.rich_utils", "markdown_it")


def _run_and_list_modules(*argv: str) -> tuple[str, list[str]]:
    code = ("import json, sys, io, contextlib\n"
            f"sys.argv = ['prefchat', *{list(argv)!r}]\n"
            "from prefchat.cli import main\n"
            "out = io.StringIO()\n"
            "with contextlib.redirect_stdout(out):\n"
            "    try:\n        main()\n    except SystemExit:\n        pass\n"
            "print(json.dumps([out.getvalue(), sorted(sys.modules)]))\n")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    text, modules = json.loads(p.stdout.strip().splitlines()[-1])
    return text, modules


def test_help_imports_no_command_module_and_nothing_heavy():
    text, modules = _run_and_list_modules("--help")
    assert "Commands:" in text and all(name in text for name, _, _ in COMMANDS)
    commands = [m for m in modules if m.startswith("prefchat.commands.")]
    assert commands == []
    assert [m for m in HEAVY if m in modules] == []


def test_a_command_loads_only_its_own_module():
    text, modules = _run_and_list_modules("config", "--help")
    assert "Usage:" in text and "show" in text
    assert [m for m in modules if m.startswith("prefchat.commands.")] == ["prefchat.commands.config"]


@pytest.mark.parametrize("name,where,text", COMMANDS, ids=[c[0] for c in COMMANDS])
def test_listed_help_is_the_commands_own(name, where, text):
    cmd = load_command(name, where)
    assert cmd.name == name
    assert cmd.get_short_help_str(10**6) == text  # edit the row in cli.COMMANDS with the docstring


def test_every_command_answers_help_and_unknown_ones_get_a_suggestion():
    from typer.testing import CliRunner

    runner = CliRunner()
    for name, _, _ in COMMANDS:
        r = runner.invoke(app, [name, "--help"])
        assert r.exit_code == 0, (name, r.output)
        assert f"{name} [OPTIONS]" in r.output
    r = runner.invoke(app, ["chta"])
    assert r.exit_code == 2 and "Did you mean 'chat'?" in r.output
    assert runner.invoke(app, ["--version"]).output.startswith("prefchat ")
