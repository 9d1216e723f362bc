"""The chat fixtures (isolated PREFCHAT_HOME and config, the tiny random GGUF, the shipped basis)."""

from tests.chat.conftest import ENV_VARS, home, tiny_gguf  # noqa: F401  (basis: tests/conftest.py)

__all__ = ["ENV_VARS"]
