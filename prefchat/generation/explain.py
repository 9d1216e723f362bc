"""Why a reply won: the named traits that most separated it from the runner-up.

The basis axes say phi ~ traits @ A (A: 7 x J, one row per named trait), so a score difference
lambda . (phi_w - phi_r) splits into per-trait parts:

    d_t  = the trait difference that best explains phi_w - phi_r   (least squares: A' d ~ phi_w - phi_r)
    w_t  = a_t . lambda                                             (the user's weight on trait t)
    c_t  = d_t * w_t                                                (trait t's share of the margin)

The c_t add up to the margin up to the part of phi the seven traits do not span."""

from __future__ import annotations

import numpy as np

from prefchat.basis import TRAIT_POLES
from prefchat.data.corpus import TRAITS
from prefchat.generation.traits import trait_matrix


def contributions(winner_phi, runner_up_phi, profile, basis) -> list[tuple[str, float]]:
    """Every trait's (trait, c_t), largest first."""
    A = trait_matrix(basis)
    diff = np.asarray(winner_phi, dtype=np.float64) - np.asarray(runner_up_phi, dtype=np.float64)
    d, *_ = np.linalg.lstsq(A.T, diff, rcond=None)
    w = A @ np.asarray(profile.lam, dtype=np.float64)
    c = d * w
    order = sorted(range(len(TRAITS)), key=lambda i: (-c[i], i))
    return [(TRAITS[i], float(c[i])) for i in order]


def why(winner_phi, runner_up_phi, profile, basis) -> list[tuple[str, float]]:
    """The two traits that most separated the winner from the runner-up, as (trait, contribution to
    the score margin), largest first. Only traits that favoured the winner are named (an empty list
    when none did: the margin came from outside the named traits)."""
    return [(t, c) for t, c in contributions(winner_phi, runner_up_phi, profile, basis)[:2] if c > 0]


def why_text(pairs: list[tuple[str, float]], profile, basis) -> str:
    """'more concise (+0.81), more casual (+0.30)': the pole the winner moved towards, per trait."""
    w = dict(zip(TRAITS, trait_matrix(basis) @ np.asarray(profile.lam, dtype=np.float64)))
    parts = []
    for t, c in pairs:
        neg, pos = TRAIT_POLES[t]
        # c > 0 means the winner moved the way the user leans, i.e. towards sign(w_t)'s pole.
        toward_pos = (w[t] > 0) == (c > 0)
        parts.append(f"more {pos if toward_pos else neg} ({c:+.2f})")
    return ", ".join(parts)
