"""Whether a profile's onboarding quiz was left half-way, so bare `prefchat` resumes it instead of
starting a chat.

The quiz records it after every answer: the quiz length while unfinished, nothing once done. It
lives in settings.json (key "unfinished_quiz": {name: total}) next to the default profile name,
because the profile file is a shared format with no such field. No entry means finished: that is
also what profiles from before this record, imported ones and ones grown in chat read as."""

from __future__ import annotations

import json
from typing import Optional

from prefchat.fileio import atomic_write
from prefchat.paths import ensure_dir

KEY = "unfinished_quiz"


def _entries(settings: dict) -> dict:
    v = settings.get(KEY)
    return {k: t for k, t in v.items() if isinstance(t, int) and t > 0} if isinstance(v, dict) else {}


def record_quiz(store, name: str, unfinished_total: Optional[int]) -> None:
    """Remember that `name`'s quiz of `unfinished_total` questions is unfinished (None: finished).
    Writes only when that changes, so most answers cost no extra write."""
    settings = store._read_settings()
    entries = _entries(settings)
    if entries.get(name) == unfinished_total:
        return
    if unfinished_total is None:
        entries.pop(name, None)
    else:
        entries[name] = int(unfinished_total)
    if entries:
        settings[KEY] = entries
    else:
        settings.pop(KEY, None)
    ensure_dir(store.root)
    atomic_write(store.settings_path, (json.dumps(settings, indent=1, sort_keys=True) + "\n").encode())


def unfinished_quiz(store, name: str) -> Optional[int]:
    """The length of `name`'s unfinished quiz, or None when it was finished (or never recorded)."""
    return _entries(store._read_settings()).get(name)
