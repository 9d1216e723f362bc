"""The machine line every `prefchat bench` report ends with (architecture, cores, Python)."""

from __future__ import annotations

import os
import platform


def machine() -> str:
    return f"{platform.machine()} {os.cpu_count()} cpu, python {platform.python_version()}"
