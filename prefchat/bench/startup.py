"""`prefchat bench onboard|chat|cli`: start-up times, from spawning the command to its first screen (in a
real pty) or to its output, and the first chat reply's pick delay (measured in bench/scoring.py)."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
from pathlib import Path

import typer

from prefchat.bench.machine import machine
from prefchat.bench.scoring import first_rerank


def _time_to_text(cmd: list[str], marker: bytes, env: dict, timeout: float = 30.0) -> float:
    """Seconds from spawning cmd in a real 80x24 pty until marker appears on the terminal."""
    ansi = re.compile(rb"\x1b\[[0-9;?<>=]*[ -/]*[@-~]|\x1b[()][0-9A-Za-z]|\x1b[=>]")
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True)
    os.close(slave)
    buf, found = b"", None
    try:
        while time.perf_counter() - t0 < timeout:
            r, _, _ = select.select([master], [], [], 0.05)
            if r:
                try:
                    buf += os.read(master, 65536)
                except OSError:
                    break
                if marker in ansi.sub(b"", buf):
                    found = time.perf_counter() - t0
                    break
            if proc.poll() is not None:
                break
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
        os.close(master)
    if found is None:
        tail = ansi.sub(b"", buf)[-300:].decode("utf-8", "replace")
        raise typer.BadParameter(f"{marker.decode()!r} never appeared; output ended with: {tail!r}")
    return found


def report_startup(what: str, times: list[float]) -> str:
    """One line: the median and every run of `times` (seconds), with the machine and its load."""
    return (f"{what}: command -> first screen, median of {len(times)}: {statistics.median(times) * 1e3:.0f} ms "
            f"(runs: {', '.join(f'{t * 1e3:.0f}' for t in times)} ms; {machine()}; "
            f"load avg {os.getloadavg()[0]:.1f})")


def onboard(runs: int = 5, plain: bool = False) -> dict:
    """Seconds from starting `prefchat onboard` (or `--plain`) to its first question, per run."""
    times = []
    for i in range(runs):
        with tempfile.TemporaryDirectory() as home:
            env = dict(os.environ, PREFCHAT_HOME=home, TERM="xterm-256color")
            cmd = [sys.executable, "-m", "prefchat", "onboard", "--profile", f"bench{i}"] + (["--plain"] if plain else [])
            times.append(_time_to_text(cmd, b"Response B", env))
    return {"plain": plain, "runs_s": times}


def report_onboard(out: dict) -> str:
    return report_startup(f"prefchat onboard{' --plain' if out['plain'] else ''} (to the first question)",
                          out["runs_s"])


def chat(model: Path, runs: int = 5, reply_runs: int = 3) -> dict:
    """Time from starting `prefchat chat` to its first paint (the input box and key hints, in a real
    pty), per run, and the first reply's delay after generation over reply_runs fresh chats (none if 0)."""
    times = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as home:
            env = dict(os.environ, PREFCHAT_HOME=home, PREFCHAT_CONFIG=str(Path(home) / "config.toml"),
                       TERM="xterm-256color")
            cmd = [sys.executable, "-m", "prefchat", "chat", "--backend", "llama", "--model", str(model)]
            times.append(_time_to_text(cmd, b"enter send", env))
    reply = first_rerank(model, reply_runs) if reply_runs > 0 else {}
    return {"first_paint_ms": statistics.median(times) * 1e3, **reply, "machine": machine(), "first_paint_runs_s": times}


def chat_json(out: dict) -> dict:
    """What `bench chat --json` prints: the medians, without the per-run paint times."""
    return {k: v for k, v in out.items() if k != "first_paint_runs_s"}


def report_chat(out: dict) -> str:
    lines = [report_startup("prefchat chat (to the first paint)", out["first_paint_runs_s"])]
    if "first_rerank_ms" in out:
        lines.append(f"first reply, generation end -> picked reply, median of {len(out['first_rerank_runs_ms'])} "
                     f"fresh chats: {out['first_rerank_ms']:.0f} ms (runs {out['first_rerank_runs_ms']} ms; scoring "
                     f"{out['first_scoring_ms']:.0f} ms; start-up to ready {out['startup_to_ready_ms']:.0f} ms)"
                     f"  [target <= 300 ms]")
    return "\n".join(lines)


def cli(runs: int = 20) -> dict:
    """`prefchat --help` and `--version` against a bare Python start: medians over fresh processes,
    interleaved so that a load spike hits all three alike; the dict `bench cli --json` prints."""
    cmds = {"help_ms": [sys.executable, "-m", "prefchat", "--help"],
            "version_ms": [sys.executable, "-m", "prefchat", "--version"],
            "python_ms": [sys.executable, "-c", "pass"]}
    times: dict[str, list[float]] = {k: [] for k in cmds}
    for _ in range(runs):
        for key, cmd in cmds.items():
            t0 = time.perf_counter()
            subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
            times[key].append((time.perf_counter() - t0) * 1e3)
    out: dict = {k: statistics.median(v) for k, v in times.items()}
    out["loadavg"] = os.getloadavg()[0]
    out["machine"] = machine()
    return out


def report_cli(out: dict, runs: int) -> str:
    return (f"prefchat --help: median {out['help_ms']:.0f} ms; --version: {out['version_ms']:.0f} ms; bare python: "
            f"{out['python_ms']:.0f} ms ({runs} fresh processes each, interleaved; {out['machine']}; load avg "
            f"{out['loadavg']:.1f})  [target --help <= 200 ms]")
