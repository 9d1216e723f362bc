"""Benchmarks behind `prefchat bench`, one module per benchmark: plain functions that measure and
return the dict the command prints with --json, and a report that renders it. The typer signatures
live in commands/bench.py (generate's body is still in commands/bench_generate.py)."""
