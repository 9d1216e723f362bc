"""ruff with the small rule set in pyproject.toml ([tool.ruff]): the code passes it, and it catches
what it is there for."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _ruff() -> list[str]:
    exe = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    if exe is None:
        pytest.skip("ruff is not installed (pip install -e '.[test]' installs it)")
    return [exe, "check", "--no-cache", "--output-format", "concise"]


def test_the_code_passes_ruff():
    r = subprocess.run([*_ruff(), "prefchat", "tests"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr


def test_ruff_reports_an_unused_import_and_an_undefined_name(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import os\n\n\ndef f():\n    return undefined_name\n")
    r = subprocess.run([*_ruff(), "--config", str(ROOT / "pyproject.toml"), str(bad)], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 1 and "F401" in r.stdout and "F821" in r.stdout, r.stdout + r.stderr
