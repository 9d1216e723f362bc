"""Tiny random-weight models for tests (reusable by other test packages, e.g. the TUI's):

    from tests.llm.tiny_models import write_tiny_gguf, write_tiny_hf

Both write in well under a second, need no network, and use the ChatML template. The writers
themselves live in prefchat.bench.synthetic because `prefchat bench generate --make-tiny` uses them.
"""

from __future__ import annotations

from pathlib import Path

from prefchat.bench.synthetic import TINY, write_random_gguf, write_random_hf


def write_tiny_gguf(path, *, chat_template: bool = True, seed: int = 0) -> Path:
    """A 2-layer, 64-wide llama-architecture GGUF (F32) with a 512-token byte-level BPE vocab."""
    from prefchat.bench.synthetic import CHATML_TEMPLATE

    return write_random_gguf(path, TINY, quant="f32", seed=seed,
                             chat_template=CHATML_TEMPLATE if chat_template else None)


def write_tiny_hf(directory, *, seed: int = 0) -> Path:
    """A 2-layer, 64-wide Qwen2ForCausalLM plus an in-process-trained BPE tokenizer."""
    return write_random_hf(directory, seed=seed)


def repacks_q4_0() -> bool:
    """Whether this llama.cpp build repacks Q4_0 on this CPU (its x86 repack needs AVX2)."""
    import llama_cpp as lc

    info = lc.llama_print_system_info().decode()
    return "REPACK = 1" in info and "AVX2 = 1" in info
