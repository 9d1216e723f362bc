"""A profile as something a person can read: one labelled bar per named trait of the basis,

    concise  ◀───━━●━━──────▶  verbose   +0.42 ± 0.10   captured 87% (well)

The dot is the user's weight on the trait (a . lambda, in log-odds per unit of trait), squashed with
tanh so any value fits the bar; the thick part is ± one posterior sd, so a dozen answers show as a
wide smear and a confident profile as a sharp dot. 'captured' is how well the basis itself predicts the
trait (held-out pairwise accuracy; 50% = not at all): a weight on a poorly captured trait means little."""

from __future__ import annotations

import math

import numpy as np
from rich.console import Group
from rich.table import Table
from rich.text import Text

from prefchat.profiles.profile import Profile

BAR_CELLS = 21
SCALE = 1.0  # tanh(value / SCALE): a weight of ±1 log-odds lands three quarters of the way out


def _cell(value: float, cells: int = BAR_CELLS) -> int:
    x = math.tanh(value / SCALE)  # -1..1
    return int(round((x + 1.0) / 2.0 * (cells - 1)))


def bar(value: float, sd: float | None = None, cells: int = BAR_CELLS) -> str:
    """The track between the two pole arrows, e.g. '───━━●━━───'."""
    track = ["─"] * cells
    if sd is not None and math.isfinite(sd) and sd > 0:
        lo, hi = _cell(value - sd, cells), _cell(value + sd, cells)
        for i in range(lo, hi + 1):
            track[i] = "━"
    track[_cell(value, cells)] = "●"
    return "◀" + "".join(track) + "▶"


# Below this held-out accuracy a trait is "read weakly": a clear answer about it moves its bar only a
# little, and its weight means less. The shipped basis reads humour at 67 % (jokes are semantic, and
# MiniLM sees little of them); every other trait at 85 % or more (BENCHMARKS.md, the default basis).
WEAK = 0.75
CAPTURED_MEANS = ("captured N% = how often the basis alone tells which of two replies has more of the "
                  "trait (held-out pairs; 50% is chance)")


def captured_word(acc: float) -> str:
    return "well" if acc >= 0.8 else "partly" if acc >= 0.65 else "barely"


def trait_line(row: dict) -> str:
    """One plain-text line per trait (also what tests check)."""
    sd = row.get("sd")
    unc = f" ± {sd:.2f}" if sd is not None else ""
    return (f"{row['neg']} {bar(row['value'], sd)} {row['pos']}  {row['value']:+.2f}{unc}  "
            f"captured {row['captured']:.0%} ({captured_word(row['captured'])})")


def captured_notes(rows: list[dict]) -> list[str]:
    """The one line that explains 'captured', and one naming the traits the basis reads weakly."""
    notes = [CAPTURED_MEANS + "."]
    weak = [r for r in rows if r["captured"] < WEAK]
    if weak:
        names = ", ".join(f"{r['trait']} ({r['captured']:.0%})" for r in weak)
        notes.append(f"The basis reads {names} weakly: a clear choice about "
                     f"{'it' if len(weak) == 1 else 'them'} moves that bar only a little.")
    return notes


def header(profile: Profile, is_default: bool = False) -> Text:
    t = Text()
    t.append(profile.name, style="bold")
    if is_default:
        t.append("  (default)", style="green")
    t.append(f"\nbasis {profile.basis.name} ({profile.basis.dims} dims, {profile.basis.fingerprint[:19]}…)"
             f"\n{len(profile.answers)} answers · created {profile.created_at} · updated "
             f"{profile.updated_at}", style="dim")
    return t


def render(profile: Profile, basis=None, is_default: bool = False):
    """Rich renderable for `prefchat profile show`. basis: the loaded Basis, or None if unavailable."""
    parts = [header(profile, is_default)]
    matches = basis is not None and basis.fingerprint == profile.basis.fingerprint and basis.axes
    if matches:
        rows = basis.describe(profile.lam_array(), profile.precision_array())
        table = Table(show_header=False, box=None, pad_edge=False)
        for col in ("neg", "bar", "pos", "value"):  # never wrap a bar; the captured note may fold
            table.add_column(col, justify="right" if col in ("neg", "value") else "left", no_wrap=True,
                             min_width=BAR_CELLS + 2 if col == "bar" else None)
        table.add_column("captured", no_wrap=True)
        for r in rows:
            sd = r.get("sd")
            value = f"{r['value']:+.2f}" + (f" ± {sd:.2f}" if sd is not None else "")
            cap = r["captured"]
            weak = cap < 0.65
            table.add_row(r["neg"], bar(r["value"], sd), r["pos"], value,
                          Text(f"captured {cap:.0%}" + ("*" if weak else ""), style="dim" if weak else ""))
        parts.append(table)
        if any(r["captured"] < 0.65 for r in rows):
            parts.append(Text("* the basis barely captures this trait, so its weight means little",
                              style="dim"))
        parts += [Text(line, style="dim") for line in captured_notes(rows)]
    else:
        why = ("the basis it was fitted on is not loaded" if basis is None else
               f"it was fitted on another basis than '{basis.name}'" if basis.fingerprint !=
               profile.basis.fingerprint else "the basis has no named trait axes")
        parts.append(Text(f"Raw lambda only: {why} (try `prefchat profile refit {profile.name}`).",
                          style="yellow"))
        sd = np.sqrt(np.clip(np.diag(np.linalg.inv(profile.precision_array())), 0, None))
        table = Table("dim", "lambda", "± sd", box=None)
        for i, (v, s) in enumerate(zip(profile.lam, sd)):
            table.add_row(str(i), f"{v:+.3f}", f"{s:.3f}")
        parts.append(table)
    return Group(*parts)
