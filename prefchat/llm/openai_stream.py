"""Bounds and per-choice state for the OpenAI-compatible backend's streams (llm/openai_compat.py).

A server that ignores max_tokens (or is hostile) could stream without end: each candidate stops being
read at reply_bounds(max_tokens) characters, UTF-8 bytes and chunks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from prefchat.llm.base import StreamInterrupted

# Per-candidate bounds from max_tokens: a token is a few characters (rarely more than ~16, even
# for code), and a server sends about one content chunk per token. Generous on purpose; a floor
# keeps small max_tokens from cutting honest replies.
CHARS_PER_TOKEN = 16
MIN_CHARS = 4096


def reply_bounds(max_tokens: int) -> tuple[int, int, int]:
    """(characters, UTF-8 bytes, chunks) after which a candidate is cut off."""
    chars = max(MIN_CHARS, int(max_tokens) * CHARS_PER_TOKEN)
    return chars, chars * 2, max(256, int(max_tokens) * 4)


@dataclass
class Choice:
    text: str = ""
    n_tokens: int = 0
    finish: Optional[str] = None
    seconds: float = 0.0
    seed: Optional[int] = None
    n_bytes: int = 0
    n_chunks: int = 0
    role: Optional[str] = None


class CleanCut(StreamInterrupted):
    """The stream ended (even with [DONE]) before a finish_reason: the server stopped this reply.
    llama-cpp-python's server does exactly this to a stream when another request arrives (its
    `interrupt_requests` setting, on by default), so concurrent requests cut each other there."""
