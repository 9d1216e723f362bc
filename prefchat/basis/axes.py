"""Named trait axes of a basis: which direction in phi-space is 'formal', 'humorous', ...

Both trainers call trait_axes on a corpus with trait labels; basis.json stores the result and
Basis.describe reads it."""

from __future__ import annotations

import numpy as np

from prefchat.basis.format import TRAIT_POLES
from prefchat.data import TRAITS


def trait_axes(phi: np.ndarray, traits: np.ndarray, rows_fit: np.ndarray, a_test: np.ndarray,
               b_test: np.ndarray) -> list[dict]:
    """Name the basis directions by the seven traits.

    phi ~ traits @ B (least squares over rows_fit), so a user's reward lambda . phi ~ traits . (B lambda):
    B[t] . lambda is the user's weight on trait t. 'captured' is how well phi predicts the trait: the
    sign accuracy of a ridge map phi -> trait on held-out pairs that differ in that trait."""
    T = traits[rows_fit].astype(float)
    P = phi[rows_fit]
    Tc, Pc = T - T.mean(0), P - P.mean(0)
    B, *_ = np.linalg.lstsq(Tc, Pc, rcond=None)  # 7 x J
    axes = []
    for k, t in enumerate(TRAITS):
        w = np.linalg.solve(Pc.T @ Pc + 1e-3 * np.eye(P.shape[1]), Pc.T @ Tc[:, k])
        dt = traits[a_test, k] - traits[b_test, k]
        keep = dt != 0
        pred = (phi[a_test] - phi[b_test]) @ w
        acc = float(np.mean(np.sign(pred[keep]) == np.sign(dt[keep]))) if keep.any() else float("nan")
        neg, pos = TRAIT_POLES[t]
        axes.append({"trait": t, "neg": neg, "pos": pos, "vector": B[k].tolist(), "captured": acc})
    return axes
