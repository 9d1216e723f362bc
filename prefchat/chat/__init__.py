"""Chat without UI: session (generation + reranking + learning) and SQLite history.

`Cancelled` is re-exported so the UI can catch a cancelled generation without importing prefchat.llm
(tui/ never imports llm/; see docs/ARCHITECTURE.md)."""

from prefchat.llm.base import Cancelled

__all__ = ["Cancelled"]
