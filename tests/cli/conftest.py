"""The chat fixtures (isolated PREFCHAT_HOME and config, the tiny random GGUF, the shipped basis)."""

from tests.chat.conftest import ENV_VARS, basis, home, tiny_gguf  # noqa: F401

__all__ = ["ENV_VARS"]
