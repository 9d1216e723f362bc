"""Backend.generate checks the candidate count with a real check, which `python -O` keeps (it strips
`assert` statements)."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def test_the_wrong_number_of_candidates_is_a_backend_error_even_under_python_O():
    code = textwrap.dedent("""
        from prefchat.llm.base import Backend, BackendError, Candidate, GenerationRequest

        class Short(Backend):
            name = "short"
            def _load(self, progress): pass
            def _generate(self, request, on_delta, cancel): return [Candidate("x", 1, 0.0, "stop")]

        try:
            Short().generate(GenerationRequest([{"role": "user", "content": "hi"}], n=2))
        except BackendError as exc:
            print("ERROR", exc)
        else:
            print("NO ERROR")
    """)
    r = subprocess.run([sys.executable, "-O", "-c", code], capture_output=True, text=True, timeout=60)
    assert r.stdout.strip() == "ERROR short returned 1 candidates for n=2", r.stdout + r.stderr
