"""OpenMP thread waiting for processes that generate and then score, back to back.

llama.cpp (through the system libgomp) and torch (through its own bundled copy) each keep an OpenMP
thread pool, and by default an idle pool's threads spin for a while before sleeping. Right after
generation the llama.cpp pool is still spinning on both cores when the scorer's torch pool starts, and
on a busy machine every parallel region of either waits for a descheduled spinner: scoring 8 replies
took 1.3-5.3 s instead of 0.26-0.40 s on 2 shared cores (BENCHMARKS.md, issue 16). Passive waiting
puts idle threads to sleep at once; the cost is a wake-up of microseconds per parallel region.

It must be set before either library is loaded (each reads it once, when it starts), so the chat's
start-up worker and `ask` call this before loading the model or the scorer. A value the user set
wins."""

from __future__ import annotations

import os


def prefer_passive_waits() -> None:
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
