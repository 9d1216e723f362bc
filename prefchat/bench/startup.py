"""`prefchat bench onboard|chat|cli`: start-up times, from spawning the command to its first screen (in a
real pty) or to its output, and the first chat reply's pick delay."""

from __future__ import annotations

import fcntl
import json
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
from prefchat.bench.scoring import bench_cli_startup, first_rerank


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


def _report_startup(what: str, times: list[float]) -> None:
    typer.echo(f"{what}: command -> first screen, median of {len(times)}: {statistics.median(times) * 1e3:.0f} ms "
               f"(runs: {', '.join(f'{t * 1e3:.0f}' for t in times)} ms; {machine()}; "
               f"load avg {os.getloadavg()[0]:.1f})")


def bench_onboard(
    runs: int = typer.Option(5, help="Runs to take the median of."),
    plain: bool = typer.Option(False, "--plain", help="Measure the --plain quiz instead of the full-screen one."),
) -> None:
    """Time from starting `prefchat onboard` to the first question on screen (a real terminal via a pty)."""
    times = []
    for i in range(runs):
        with tempfile.TemporaryDirectory() as home:
            env = dict(os.environ, PREFCHAT_HOME=home, TERM="xterm-256color")
            cmd = [sys.executable, "-m", "prefchat", "onboard", "--profile", f"bench{i}"] + (["--plain"] if plain else [])
            times.append(_time_to_text(cmd, b"Response B", env))
    _report_startup(f"prefchat onboard{' --plain' if plain else ''} (to the first question)", times)


def bench_chat(
    runs: int = typer.Option(5, help="Runs to take the median of."),
    model: Path = typer.Option(..., "--model", help="A GGUF file (e.g. the one `bench generate --make-tiny "
                               "qwen05b` writes). Loading it happens in a worker, after the first paint."),
    reply_runs: int = typer.Option(3, "--reply-runs", help="Fresh chats timed for first_rerank_ms: the first "
                                   "reply's delay from generation end to the picked reply (0 skips it)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Time from starting `prefchat chat` to its first screen, and the first reply's pick delay.

    The first screen is the input box and key hints, in a real pty; the first reply's delay after
    generation (scorer loaded at start-up: target <= 300 ms on CPU)."""
    times = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as home:
            env = dict(os.environ, PREFCHAT_HOME=home, PREFCHAT_CONFIG=str(Path(home) / "config.toml"),
                       TERM="xterm-256color")
            cmd = [sys.executable, "-m", "prefchat", "chat", "--backend", "llama", "--model", str(model)]
            times.append(_time_to_text(cmd, b"enter send", env))
    reply = first_rerank(model, reply_runs) if reply_runs > 0 else {}
    if as_json:
        typer.echo(json.dumps({"first_paint_ms": statistics.median(times) * 1e3, **reply, "machine": machine()}))
        return
    _report_startup("prefchat chat (to the first paint)", times)
    if reply:
        typer.echo(f"first reply, generation end -> picked reply, median of {reply_runs} fresh chats: "
                   f"{reply['first_rerank_ms']:.0f} ms (runs {reply['first_rerank_runs_ms']} ms; scoring "
                   f"{reply['first_scoring_ms']:.0f} ms; start-up to ready {reply['startup_to_ready_ms']:.0f} ms)"
                   f"  [target <= 300 ms]")


def bench_cli(
    runs: int = typer.Option(20, help="Fresh processes per command (interleaved); medians are reported."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Time `prefchat --help` and `--version` against a bare Python start (target: --help <= 200 ms)."""
    out = bench_cli_startup(runs)
    out["machine"] = machine()
    if as_json:
        typer.echo(json.dumps(out))
        return
    typer.echo(f"prefchat --help: median {out['help_ms']:.0f} ms; --version: {out['version_ms']:.0f} ms; bare python: "
               f"{out['python_ms']:.0f} ms ({runs} fresh processes each, interleaved; {out['machine']}; load avg "
               f"{out['loadavg']:.1f})  [target --help <= 200 ms]")
