"""Typer command groups. Each module must import only light modules at top level; heavy parts
(torch, transformers, llama_cpp) are imported inside the command functions."""
