"""Screen capture helpers: the visible text of the current screen (for readable assertions and
failure output) and the SVG screenshot (for the snapshot files)."""

from __future__ import annotations

import io

from rich.console import Console


def screen_text(app) -> str:
    """What a person would read on the terminal, one line per row (same render as export_screenshot)."""
    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), force_terminal=True,
                      color_system="truecolor", record=True, legacy_windows=False, safe_box=False)
    console.print(app.screen._compositor.render_update(full=True, screen_stack=app._background_screens))
    return console.export_text(styles=False)


def sync(fn):
    """Run an async test with asyncio.run, so Pilot tests need no pytest async plugin."""
    import asyncio
    import functools

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return asyncio.run(fn(*args, **kwargs))
    return wrapper


async def ready(app, pilot):
    """Wait for a chat app's start-up worker; the session must exist then."""
    await app.workers.wait_for_complete()
    await pilot.pause()
    assert app.session is not None, screen_text(app)


async def send(app, pilot, *keys):
    """Type `keys`, press Enter, and wait for the reply's workers."""
    await pilot.press(*keys, "enter")
    await pilot.pause()
    await app.workers.wait_for_complete()
    await pilot.pause()
