"""Benchmarks behind `prefchat bench` (phase 2 moves each subcommand's code here from commands/bench_*.py)."""
