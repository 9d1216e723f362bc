"""Screenshots at fixed sizes, compared with files in tests/tui/snapshots/.

pytest-textual-snapshot would pin pytest < 9, so this is the same idea by hand: each case stores the
SVG from `app.export_screenshot()` (what a reviewer opens in a browser) and the plain text of the
screen (what makes a failure readable in the terminal). A missing snapshot fails; write or regenerate
them after an intended UI change with PREFCHAT_UPDATE_SNAPSHOTS=1, check them, and commit them."""

from __future__ import annotations

import difflib
import os
import sys
from pathlib import Path

import pytest

from prefchat.tui.onboard_app import OnboardApp
from prefchat.onboarding.quiz import open_session

from .screens import screen_text, sync

SNAPSHOTS = Path(__file__).parent / "snapshots"
# Read when the module is collected: the autouse isolation fixture clears PREFCHAT_* variables before
# each test runs, so reading it inside a test would never see it.
UPDATE = bool(os.environ.get("PREFCHAT_UPDATE_SNAPSHOTS"))


def check(name: str, svg: str, text: str) -> None:
    svg_file, txt_file = SNAPSHOTS / f"{name}.svg", SNAPSHOTS / f"{name}.txt"
    if UPDATE:
        SNAPSHOTS.mkdir(exist_ok=True)
        svg_file.write_text(svg, encoding="utf-8")
        txt_file.write_text(text, encoding="utf-8")
        return
    if not (svg_file.exists() and txt_file.exists()):
        # A missing snapshot fails: passing would accept whatever the screen shows today, and CI on a
        # fresh clone would never compare anything.
        pytest.fail(f"{name}: no snapshot in {SNAPSHOTS}; run with PREFCHAT_UPDATE_SNAPSHOTS=1 to write it, "
                    "check the new files, and commit them")
    want = txt_file.read_text(encoding="utf-8")
    if text != want:
        diff = "\n".join(difflib.unified_diff(want.splitlines(), text.splitlines(), "snapshot", "now",
                                              lineterm=""))
        pytest.fail(f"{name}: screen text changed (PREFCHAT_UPDATE_SNAPSHOTS=1 to accept):\n{diff}")
    assert svg == svg_file.read_text(encoding="utf-8"), (
        f"{name}: colours or styles changed; open {svg_file} and the new screenshot to compare "
        "(PREFCHAT_UPDATE_SNAPSHOTS=1 to accept)")


CASES = [("quiz_80x24_dark", (80, 24), "textual-dark", ""),
         ("quiz_80x24_light", (80, 24), "textual-light", ""),
         ("quiz_120x40_dark", (120, 40), "textual-dark", "ab"),
         ("help_80x24_dark", (80, 24), "textual-dark", "?")]


@pytest.mark.parametrize("name,size,theme,keys", CASES, ids=[c[0] for c in CASES])
@sync
async def test_snapshot(quiz_env, name, size, theme, keys):
    app = OnboardApp(lambda: open_session(basis=quiz_env["basis"], corpus=quiz_env["corpus"], seed=5))
    async with app.run_test(size=size) as pilot:
        app.theme = theme
        await app.workers.wait_for_complete()
        await pilot.pause()
        for k in keys:
            await pilot.press("question_mark" if k == "?" else k)
        await pilot.pause()
        check(name, app.export_screenshot(title="prefchat onboard"), screen_text(app))


def test_a_missing_snapshot_fails_and_writes_nothing(monkeypatch):
    monkeypatch.setattr(sys.modules[__name__], "UPDATE", False)  # even in a run that updates snapshots
    with pytest.raises(pytest.fail.Exception, match="no snapshot"):
        check("no_such_case_80x24", "<svg/>", "text")
    assert not list(SNAPSHOTS.glob("no_such_case_80x24.*"))
