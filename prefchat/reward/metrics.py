"""Evaluation measures: AUC-ROC, accuracy at 0.5, principal angles between subspaces."""

from __future__ import annotations

import numpy as np


def auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve of `scores` against 0/1 `labels` (Mann-Whitney, ties in scores count
    half). Ties in the labels (0.5) are dropped. NaN when only one class is present."""
    s = np.asarray(scores, dtype=float)
    y = np.asarray(labels, dtype=float)
    keep = y != 0.5
    s, y = s[keep], y[keep]
    pos, neg = s[y == 1], s[y == 0]
    if pos.size == 0 or neg.size == 0:
        return float("nan")
    order = np.argsort(np.concatenate([pos, neg]), kind="mergesort")
    allv = np.concatenate([pos, neg])[order]
    ranks = np.empty(allv.size)
    # average ranks over tied scores
    i = 0
    while i < allv.size:
        j = i
        while j + 1 < allv.size and allv[j + 1] == allv[i]:
            j += 1
        ranks[i:j + 1] = (i + j) / 2.0 + 1.0
        i = j + 1
    r = np.empty(allv.size)
    r[order] = ranks
    rank_pos = r[: pos.size].sum()
    return float((rank_pos - pos.size * (pos.size + 1) / 2.0) / (pos.size * neg.size))


def accuracy(scores: np.ndarray, labels: np.ndarray) -> float:
    """Share of pairs where the predicted side (score > 0 means 'a') matches; label ties count half,
    a zero score counts half."""
    s = np.sign(np.asarray(scores, dtype=float))
    y = np.asarray(labels, dtype=float)
    if y.size == 0:
        return float("nan")
    pred = 0.5 * (s + 1.0)
    hit = np.where(y == 0.5, 0.5, 1.0 - np.abs(pred - y))
    return float(hit.mean())


def principal_angles(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Principal angles (radians, ascending) between the column spaces of a and b."""
    qa, _ = np.linalg.qr(np.asarray(a, dtype=float))
    qb, _ = np.linalg.qr(np.asarray(b, dtype=float))
    cos = np.linalg.svd(qa.T @ qb, compute_uv=False)
    return np.arccos(np.clip(cos, -1.0, 1.0))
