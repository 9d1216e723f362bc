"""From settings to a working chat session: the config with command-line flags on top, the profile
and basis to pick with, the backend (built, not loaded) and the history. `prefchat chat`, `prefchat
ask` and the benchmarks all start here, so the wiring lives in one place and not in a command."""

from __future__ import annotations

from typing import Optional

from prefchat.basis import load_basis
from prefchat.chat.history import History
from prefchat.chat.session import ChatSession
from prefchat.config import build_backend, load_config, parse_value
from prefchat.errors import PrefchatError
from prefchat.profiles.store import ProfileStore
from prefchat.rerank import Reranker


def resolve_config(backend: Optional[str] = None, model: Optional[str] = None, n: Optional[int] = None,
                   candidates: Optional[str] = None):
    """Config file + env + command-line flags (flags win)."""
    cfg = load_config()
    if backend:
        cfg.backend = parse_value("backend", backend, "--backend")
    if model:
        cfg.model = model
    if n is not None:
        cfg.n = parse_value("n", str(n), "-n")
    if candidates is not None:
        cfg.candidates = parse_value("candidates", candidates, "--candidates")
    return cfg


def load_profile_and_basis(name: Optional[str]):
    """(profile or None, basis or None). A named profile that does not exist is an error; without a
    name the default profile (or the only one) is used, and none at all means unpersonalised."""
    store = ProfileStore()
    profile = None
    if name:
        profile = store.load(name)
    else:
        try:
            default = store.get_default()
        except PrefchatError:
            default = None
        good, _ = store.list()
        if default and any(p.name == default for p in good):
            profile = store.load(default)
        elif len(good) == 1:
            profile = good[0]
        elif any(p.name == "me" for p in good):
            profile = store.load("me")
    try:
        basis = load_basis()
    except PrefchatError:
        if profile is not None:
            raise
        basis = None
    return profile, basis


def make_session(cfg, profile: Optional[str], with_history: bool = True, scorer=None):
    """ChatSession for cfg and the named (or default) profile; refuses a profile from another
    basis. Backend is built, not loaded."""
    prof, basis = load_profile_and_basis(profile)
    reranker = Reranker(basis, prof, scorer=scorer)
    backend = build_backend(cfg)
    # tolerant: a locked, unreadable or full history must not stop the chat; the app says the
    # conversation is not being saved (History.problem) and keeps it in memory.
    return ChatSession(cfg, backend, reranker, History(tolerant=True) if with_history else None,
                       profile_name=prof.name if prof else None)
