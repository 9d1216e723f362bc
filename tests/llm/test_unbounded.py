"""A server that ignores max_tokens and streams 50 MB must cost a bounded amount of memory and time: the
candidate is cut at reply_bounds(max_tokens) and marked finish_reason "length". Also: a `role: tool`
reply is not taken as the answer, a timeout reports the real time waited, max_tokens is bounded in the
config, and the scorer reads at most MAX_SCORE_CHARS of a candidate."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import tracemalloc

import pytest

from prefchat.config import MAX_TOKENS_LIMIT, parse_value
from prefchat.errors import PrefchatError
from prefchat.llm import BackendTimeout, GenerationRequest, ServerError, make_backend
from prefchat.llm.openai_stream import reply_bounds

from .conftest import CHAT
from .loopback import ScriptedServer
from .test_openai_compat import FaultServer


def req(**kw):
    base = dict(messages=CHAT, n=1, max_tokens=64, temperature=1.0, seed=1)
    base.update(kw)
    return GenerationRequest(**base)


@pytest.fixture
def flood():
    s = ScriptedServer(mode="flood", flood_bytes=50_000_000)
    yield s
    s.close()


@pytest.mark.parametrize("n", [1, 4])
def test_flooding_server_is_cut_off_bounded_and_prompt(flood, n):
    b = make_backend("openai", "m", base_url=flood.url, timeout=20, max_retries=0)
    streamed = []
    tracemalloc.start()
    t0 = time.perf_counter()
    try:
        out = b.generate(req(n=n), on_delta=lambda i, t: streamed.append(len(t)))
        elapsed = time.perf_counter() - t0
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    chars, nbytes, _ = reply_bounds(64)
    assert len(out) == n
    for c in out:
        assert c.finish_reason == "length" and 0 < len(c.text) <= chars
        assert len(c.text.encode()) <= nbytes
    assert sum(streamed) == sum(len(c.text) for c in out)
    assert elapsed < 15, elapsed  # was minutes
    assert peak < 40 * 1024 * 1024, peak  # was gigabytes
    assert flood.sent_bytes < 20_000_000 * n  # the client stopped reading early


def _ask_maxrss(url: str, tmp_path) -> tuple[subprocess.CompletedProcess, float, float]:
    """`prefchat ask` against `url` in a fresh process: (result, seconds, peak RSS in MB)."""
    env = {k: v for k, v in os.environ.items() if not k.endswith("API_KEY")}
    env.update(PREFCHAT_HOME=str(tmp_path / "h"), PREFCHAT_CONFIG=str(tmp_path / "c.toml"),
               PREFCHAT_BASE_URL=url)
    code = ("import resource, runpy, sys; sys.argv = ['prefchat', 'ask', 'hi', '--backend', 'openai',"
            " '--model', 'm', '-n', '2', '--max-tokens', '64']\n"
            "try:\n    runpy.run_module('prefchat', run_name='__main__')\n"
            "finally:\n    sys.stderr.write('MAXRSS %d\\n' % resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)")
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                       timeout=180)
    seconds = time.perf_counter() - t0
    assert r.returncode == 0, r.stderr
    return r, seconds, int(r.stderr.split("MAXRSS")[1].split()[0]) / 1024


def test_flood_through_ask_cli_stays_small(flood, tmp_path):
    # The baseline is the same `ask` against a server that answers "hello": python, openai and the
    # scorer `ask` loads beside generation. The 50 MB flood may add only the bounded candidates.
    calm = ScriptedServer("hello")
    try:
        _, calm_s, calm_mb = _ask_maxrss(calm.url, tmp_path)
    finally:
        calm.close()
    r, flood_s, flood_mb = _ask_maxrss(flood.url, tmp_path)
    assert flood_s < calm_s + 30, (flood_s, calm_s)  # was minutes
    assert flood_mb < calm_mb + 100, (flood_mb, calm_mb)  # was gigabytes
    assert 0 < len(r.stdout) <= reply_bounds(64)[0] + 1


def test_role_tool_reply_is_not_the_answer():
    s = ScriptedServer("calling a tool", mode="role:tool")
    try:
        b = make_backend("openai", "m", base_url=s.url, timeout=5, max_retries=0)
        with pytest.raises(ServerError, match="'tool' message instead of an assistant reply"):
            b.generate(req())
    finally:
        s.close()


def test_timeout_reports_real_elapsed_time():
    f = FaultServer()
    try:
        b = make_backend("openai", "m", base_url=f.url("hang"), timeout=1, max_retries=1)
        t0 = time.perf_counter()
        with pytest.raises(BackendTimeout) as ei:
            b.generate(req())
        waited = time.perf_counter() - t0
    finally:
        f.close()
    msg = str(ei.value)
    assert waited >= 2  # two tries of 1 s
    said = int(msg.split("within ")[1].split(" s")[0])
    assert abs(said - waited) < 1.0, (msg, waited)
    assert "over 2 tries" in msg and "timeout 1 s" in msg


def test_max_tokens_is_bounded_in_config():
    assert parse_value("max_tokens", str(MAX_TOKENS_LIMIT), "x") == MAX_TOKENS_LIMIT
    with pytest.raises(PrefchatError, match="between 1 and 32768"):
        parse_value("max_tokens", "10000000", "--max-tokens")


def test_scorer_reads_a_bounded_prefix():
    """The shipped basis and a real profile; the scorer records what it is asked to read."""
    import numpy as np

    from prefchat import rerank as rr
    from prefchat.basis import load_basis
    from prefchat.profiles.profile import new_profile

    basis = load_basis()
    mean, prec = basis.prior
    prof = new_profile("p", basis.name, basis.fingerprint, mean, prec)
    seen = []

    class RecordingScorer:
        def phi(self, texts, prompts):
            seen.extend(len(t) for t in list(texts) + list(prompts))
            return np.zeros((len(texts), basis.dims))

    r = rr.Reranker(basis, prof, scorer=RecordingScorer())
    res = r.rerank("q" * 10**6, ["a" * 5_000_000, "short"])
    assert seen and max(seen) <= rr.MAX_SCORE_CHARS
    assert sorted(len(x.text) for x in res.ranked) == [5, 5_000_000]  # candidates not altered
