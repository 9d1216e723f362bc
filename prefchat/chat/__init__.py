"""Chat without UI: session (generation + reranking + learning) and SQLite history."""
