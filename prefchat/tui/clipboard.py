"""Copying a reply out of the chat. Ctrl+Y prefers the system clipboard tool, because OSC 52 (the
terminal escape Textual sends) is silently ignored by many terminals and by tmux unless
`set-clipboard on`: saying "copied" after OSC 52 alone would often be untrue.

What is copied is the reply as shown (cleaned of escape sequences, prefchat/textsafe.py) and bounded:
a clipboard is no place for megabytes, and an OSC 52 payload that large stalls some terminals."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from typing import Optional

from prefchat.textsafe import clean

MAX_COPY_CHARS = 100_000


def tools(env=None) -> list[list[str]]:
    """Clipboard commands to try, most specific first, for the session we are in."""
    env = os.environ if env is None else env
    out = []
    if sys.platform == "darwin":
        out.append(["pbcopy"])
    if env.get("WAYLAND_DISPLAY"):
        out.append(["wl-copy"])
    if env.get("DISPLAY"):
        out += [["xclip", "-selection", "clipboard"], ["xsel", "--clipboard", "--input"]]
    return out


def payload(text: str) -> str:
    return clean(text)[:MAX_COPY_CHARS]


def copy_with_tool(text: str, env=None, timeout: float = 3.0) -> Optional[str]:
    """Copy with the first clipboard tool that exists and succeeds; its name, or None."""
    for cmd in tools(env):
        exe = shutil.which(cmd[0], path=(env or os.environ).get("PATH"))
        if exe is None:
            continue
        try:
            r = subprocess.run([exe, *cmd[1:]], input=text.encode("utf-8"), timeout=timeout,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if r.returncode == 0:
            return cmd[0]
    return None
