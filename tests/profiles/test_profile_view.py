"""The trait bars put the dot where the weight is and widen with uncertainty."""

from __future__ import annotations

from prefchat.profiles.view import BAR_CELLS, bar, trait_line


def _dot(s: str) -> int:
    return s.index("●") - 1  # minus the left arrow


def test_bar_position_and_uncertainty():
    assert len(bar(0.0)) == BAR_CELLS + 2 and bar(0.0).startswith("◀") and bar(0.0).endswith("▶")
    assert _dot(bar(0.0)) == BAR_CELLS // 2
    assert _dot(bar(-0.5)) < _dot(bar(0.0)) < _dot(bar(0.5)) < _dot(bar(5.0)) == BAR_CELLS - 1
    assert _dot(bar(-1e9)) == 0
    assert "━" not in bar(0.3)
    assert bar(0.3, 0.5).count("━") > bar(0.3, 0.1).count("━") > 0


def test_trait_line():
    line = trait_line({"trait": "length", "neg": "concise", "pos": "verbose", "value": 0.42, "sd": 0.1,
                       "captured": 0.87})
    assert line.startswith("concise ◀") and "▶ verbose  +0.42 ± 0.10" in line
    assert "captured 87% (well)" in line
