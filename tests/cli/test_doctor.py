"""`prefchat doctor` on a fresh install: no model yet is a warning (exit 0), a configured model that
is missing is a problem (exit 1), and it imports none of the heavy libraries (it took 5 s loading
torch for one line about the GPU)."""

from __future__ import annotations

import os
import subprocess
import sys

DOCTOR = """
import sys
from prefchat.cli import main
sys.argv = ["prefchat", "doctor"]
try:
    main()
except SystemExit as exc:
    code = exc.code or 0
else:
    code = 0
heavy = sorted(m for m in ("torch", "transformers", "llama_cpp", "openai") if m in sys.modules)
print("EXIT", code, "HEAVY", ",".join(heavy) or "-")
"""


def doctor(env=None, prelude=""):
    r = subprocess.run([sys.executable, "-c", prelude + DOCTOR], capture_output=True, text=True, timeout=120,
                       env={**os.environ, **(env or {})})
    last = r.stdout.strip().splitlines()[-1].split()
    return int(last[1]), last[3], r.stdout


def test_no_model_is_a_warning_and_nothing_heavy_loads(home):
    code, heavy, out = doctor()
    assert code == 0, out
    assert "! model: none configured yet" in out and "All good (1 warning" in out
    assert heavy == "-", f"doctor imported {heavy}"
    assert "GPU" in out and "torch" in out  # still says which torch build is installed


def test_configured_model_missing_is_a_problem(home, tmp_path):
    code, _, out = doctor({"PREFCHAT_MODEL": str(tmp_path / "gone.gguf")})
    assert code == 1 and "✗ model" in out and "not found" in out


def test_model_configured_and_present(home, tiny_gguf):
    code, heavy, out = doctor({"PREFCHAT_MODEL": str(tiny_gguf)})
    assert code == 0 and "✓ model" in out and "All good." in out and heavy == "-", out


def test_a_missing_backend_names_what_pip_installs(home):
    # sys.modules[name] = None makes find_spec report the library as absent, as on a machine without it.
    hide = 'import sys; sys.modules["{}"] = None\n'
    code, _, out = doctor(prelude=hide.format("llama_cpp"))  # llama is the default backend
    assert "✗ backend llama: llama_cpp missing: pip install llama-cpp-python" in out, out
    assert "✓ backend hf" in out and code == 1
    code, _, out = doctor(prelude=hide.format("openai"))  # not the configured backend: a note only
    assert "· backend openai: openai missing: pip install openai (only if you switch" in out and code == 0, out
