"""The trait bars put the dot where the weight is and widen with uncertainty."""

from __future__ import annotations

from prefchat.tui.profile_view import BAR_CELLS, bar, trait_line


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


def test_captured_is_explained_and_weak_traits_named():
    from prefchat.tui.profile_view import WEAK, captured_notes

    rows = [{"trait": "length", "captured": 1.0}, {"trait": "humour", "captured": 0.666},
            {"trait": "confidence", "captured": 0.856}]
    notes = captured_notes(rows)
    assert len(notes) == 2 and "captured N%" in notes[0] and "50% is chance" in notes[0]
    assert "humour (67%)" in notes[1] and "length" not in notes[1] and "confidence" not in notes[1]
    assert captured_notes([{"trait": "length", "captured": WEAK}]) == notes[:1]  # nothing weak: one line


def test_shipped_basis_names_humour_as_read_weakly(tmp_path, monkeypatch):
    import io

    from rich.console import Console

    from prefchat.basis import load_basis
    from prefchat.profiles.profile import new_profile
    from prefchat.tui.profile_view import render

    b = load_basis()
    mean, prec = b.prior
    out = io.StringIO()
    Console(file=out, width=120).print(render(new_profile("x", b.name, b.fingerprint, mean, prec, []), b))
    text = out.getvalue()
    assert "captured N%" in text
    weak = [line for line in text.splitlines() if "weakly" in line]
    assert len(weak) == 1 and "humour (67%)" in weak[0]
