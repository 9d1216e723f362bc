"""Key names a [keymap] entry may use: what Textual can deliver, so a typo ("f99") is refused with
the file and line instead of silently disabling a key. No imports from prefchat: config and the
tests use it."""

from __future__ import annotations

import unicodedata

# Key names the chat accepts in [keymap]: modifiers joined with '+' to a named key, a single
# character, or a character's Unicode name in Textual's spelling (comma, question_mark, ...).
KEY_MODIFIERS = ("ctrl", "alt", "shift", "meta", "super", "hyper")
NAMED_KEYS = {"escape", "enter", "return", "tab", "space", "backspace", "delete", "insert", "home",
              "end", "pageup", "pagedown", "up", "down", "left", "right", "slash", "backslash",
              "at", "minus", "plus", "underscore", *(f"f{i}" for i in range(1, 25))}


def valid_key_name(name: str) -> bool:
    """A key name Textual can deliver: [modifier+]...key (see NAMED_KEYS)."""
    *mods, base = name.lower().split("+") if name != "+" else ["+"]
    if any(m not in KEY_MODIFIERS for m in mods) or len(set(mods)) != len(mods):
        return False
    if base in NAMED_KEYS or (len(base) == 1 and base.isprintable() and not base.isspace()):
        return True
    try:  # Textual names punctuation after the character's Unicode name: question_mark, comma
        ch = unicodedata.lookup(base.replace("_", " ").upper())
    except KeyError:
        return False
    return len(ch) == 1 and ch.isprintable()
