"""Benchmarks behind `prefchat bench`, one module per benchmark: plain functions that measure and
return the dict the command prints with --json, and a report that renders it. The typer signatures
live in commands/bench.py. synthetic.py builds the random-weight models they (and the tests) run."""
