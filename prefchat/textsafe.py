"""Text from a model or a server is untrusted: make it safe to show.

A reply can carry terminal escape sequences. OSC 52 writes the user's clipboard, OSC 0 sets the window
title, ESC[2J clears the screen, a DCS string can talk to the terminal itself. Textual and Rich pass
most of these straight to the terminal, and so does a plain `print`. So every place that shows model or
server text runs it through one of these functions first. History stores the raw text unchanged: what
the model said is the record; only its display is cleaned.

- `clean(text)`: for terminals. Removes every escape sequence (CSI, OSC ended by BEL or ST, DCS, SOS,
  PM, APC, two-byte ESC sequences, a lone ESC) and every other C0/C1 control character, keeping
  newline and tab. A carriage return is removed too: on its own it moves the cursor back over text
  already shown (a trick to hide words), and CRLF line ends lose nothing but the CR.
- `visible(text)`: for Markdown export. Nothing is dropped: each control character is written as a
  visible `\\xNN` (or `\\u009b` for C1), and a literal backslash before such a spelling is left as is,
  so the file shows exactly what the model sent without acting on it.
"""

from __future__ import annotations

import re

# The string-type sequences run to ST (ESC \ or the C1 byte 0x9c) or, for OSC, to BEL. An unterminated
# one runs to the end of the text: a terminal would swallow everything after it too, so dropping it is
# what the user would have "seen" anyway, minus the effect. 0x90 DCS, 0x98 SOS, 0x9d OSC, 0x9e PM,
# 0x9f APC are the C1 forms of the same introducers.
_STRING_SEQ = r"(?:\x1b[P\]X^_]|[\x90\x98\x9d\x9e\x9f])[\s\S]*?(?:\x1b\\|\x9c|\x07|\Z)"
# CSI: ESC [ or the C1 byte 0x9b, parameter bytes 0x30-0x3f, intermediate 0x20-0x2f, final 0x40-0x7e.
_CSI = r"(?:\x1b\[|\x9b)[\x30-\x3f]*[\x20-\x2f]*[\x40-\x7e]?"
# Other escapes: ESC, optional intermediates, one final byte (ESC c resets the terminal, ESC ( B ...).
_ESC = r"\x1b[\x20-\x2f]*[\x30-\x7e]?"
_SEQUENCES = re.compile(f"{_STRING_SEQ}|{_CSI}|{_ESC}")
# Every remaining C0 control except \t and \n, DEL, and the C1 range.
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_VISIBLE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def clean(text: str) -> str:
    """`text` without escape sequences or control characters other than newline and tab."""
    if not text:
        return text
    text = _SEQUENCES.sub("", text)
    return _CONTROLS.sub("", text)


def _spell(m: re.Match) -> str:
    c = ord(m.group(0))
    return f"\\x{c:02x}" if c < 0x80 else f"\\u{c:04x}"


def visible(text: str) -> str:
    """`text` with each control character (except newline and tab) spelled out as `\\xNN`/`\\uNNNN`."""
    if not text:
        return text
    return _VISIBLE.sub(_spell, text)


def one_line(text: str, limit: int = 200) -> str:
    """A server's error message for a notice: cleaned, whitespace folded, cut to `limit` characters."""
    s = " ".join(clean(str(text)).split())
    return s if len(s) <= limit else s[: limit - 1] + "…"
