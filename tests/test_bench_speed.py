"""The speed benches print what the issue fixes: `bench basis --json` exactly two keys, and
`bench chat --json` the first reply's delay after generation. Figures are not asserted (benchmarks,
not timed tests); their presence, types and the quality rule are."""

from __future__ import annotations

import json
import os
import subprocess
import sys


def _bench(*args: str, env: dict | None = None) -> dict:
    p = subprocess.run([sys.executable, "-m", "prefchat", "bench", *args], capture_output=True, text=True,
                       timeout=600, check=False, env={**os.environ, **(env or {})})
    assert p.returncode == 0, p.stderr[-2000:]
    return json.loads(p.stdout.strip().splitlines()[-1])


def test_bench_basis_json_has_exactly_the_two_keys():
    out = _bench("basis", "--json", "--runs", "2")
    assert set(out) == {"cpu_8x200_ms", "phi_corr_vs_fp32"}
    assert out["cpu_8x200_ms"] > 0
    assert 0.999 <= out["phi_corr_vs_fp32"] <= 1.0


def test_bench_chat_json_reports_the_first_rerank(tmp_path):
    from tests.llm.tiny_models import write_tiny_gguf

    model = write_tiny_gguf(tmp_path / "tiny.gguf")
    out = _bench("chat", "--model", str(model), "--runs", "1", "--reply-runs", "1", "--json",
                 env={"PREFCHAT_HOME": str(tmp_path / "home")})
    assert {"first_paint_ms", "first_rerank_ms", "first_scoring_ms"} <= set(out)
    assert out["first_rerank_ms"] >= out["first_scoring_ms"] > 0  # the window holds the scoring
