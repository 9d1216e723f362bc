"""Untrusted text (model output, corpus files) made safe for a terminal, for every front end."""

from __future__ import annotations

import re

# Terminal escape sequences (CSI, OSC, two-byte ESC x) and the other C0/C1 controls except newline and
# tab. Model output is untrusted: "\x1b[2J" would clear the screen and OSC 52 writes the clipboard.
_CONTROL = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-_]?"
                      r"|[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """Text safe to put on a terminal: escape sequences and control characters removed (the raw text
    is what gets stored)."""
    return _CONTROL.sub("", text)
