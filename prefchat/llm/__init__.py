"""LLM backends behind one small interface (see base.py).

`make_backend("llama" | "hf" | "openai", model, **options)` builds one. Backend modules are imported
only when asked for, so importing this package never loads torch, transformers, llama_cpp or openai.
"""

from __future__ import annotations

import importlib
import inspect
from typing import Optional

from prefchat.llm.base import (
    AuthenticationFailed,
    Backend,
    BackendConnectionError,
    BackendError,
    BackendTimeout,
    Cancelled,
    Candidate,
    GenerationRequest,
    ModelLoadError,
    ModelNotFound,
    OutOfMemory,
    RateLimited,
    ServerError,
    StreamInterrupted,
)

# kind -> (module, class). Aliases are what people type: "llama.cpp", "gguf", "transformers", ...
_KINDS = {
    "llama": ("prefchat.llm.llama", "LlamaCppBackend"),
    "hf": ("prefchat.llm.hf", "HFBackend"),
    "openai": ("prefchat.llm.openai_compat", "OpenAICompatBackend"),
}
_ALIASES = {"llama.cpp": "llama", "llamacpp": "llama", "gguf": "llama", "transformers": "hf",
            "huggingface": "hf", "openai-compatible": "openai", "openai_compat": "openai",
            "server": "openai"}

BACKEND_KINDS = tuple(_KINDS)
# kind -> (the library it imports, what pip installs it as): doctor checks these without importing them.
BACKEND_PACKAGES = {"llama": ("llama_cpp", "llama-cpp-python"), "hf": ("transformers", "transformers"),
                    "openai": ("openai", "openai")}


def canonical_kind(kind: str) -> Optional[str]:
    """The backend kind a name or alias means ("llama.cpp" -> "llama"), or None: the one place that
    knows backend names, so the config accepts exactly what make_backend accepts."""
    key = _ALIASES.get(kind.lower(), kind.lower())
    return key if key in _KINDS else None


def backend_class(kind: str) -> type[Backend]:
    key = canonical_kind(kind)
    if key is None:
        raise BackendError(f"unknown backend '{kind}': choose one of {', '.join(_KINDS)}")
    module, cls = _KINDS[key]
    return getattr(importlib.import_module(module), cls)


def make_backend(kind: str, model: str, **options) -> Backend:
    """Build a backend without loading it. Unknown options are rejected with the list of valid ones
    (a typo in a config file should say so, not be silently ignored)."""
    cls = backend_class(kind)
    params = inspect.signature(cls.__init__).parameters
    known = [p for p in params if p not in ("self", "model")]
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise BackendError(f"unknown option(s) {', '.join(unknown)} for backend {cls.name}; "
                           f"valid: {', '.join(known)}")
    return cls(model, **options)


__all__ = [
    "AuthenticationFailed", "Backend", "BackendConnectionError", "BackendError", "BackendTimeout",
    "Cancelled", "Candidate", "GenerationRequest", "ModelLoadError", "ModelNotFound", "OutOfMemory",
    "RateLimited", "ServerError", "StreamInterrupted", "BACKEND_KINDS", "backend_class", "canonical_kind",
    "make_backend",
]
