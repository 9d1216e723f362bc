"""Prompt-reply relevance from the features the shipped basis already computes.

The MiniLM basis reads, per text, the mean and the max of its sentences' embeddings plus surface
statistics (prefchat.reward.encoders.MiniLMEncoder.features). The mean sentence embedding is a fine
text embedding, so relevance costs only the prompt's sentences in the same encoder batch:

    relevance(x, y) = cos(mean_sentence_embedding(x), mean_sentence_embedding(y))

Other bases (e.g. a causal-LM backbone) read something else; they get no relevance, and the guard
then has no relevance floor."""

from __future__ import annotations

import numpy as np

from prefchat.reward.encoders import FEATURES, STAT_NAMES


def supports(encoder) -> bool:
    """True for an encoder whose features start with the mean sentence embedding."""
    ident = getattr(encoder, "identity", None)
    return isinstance(ident, dict) and ident.get("features") == FEATURES


def mean_embedding(feats: np.ndarray) -> np.ndarray:
    """The mean-sentence-embedding part of feature rows (the first of two equal halves before the
    surface statistics)."""
    feats = np.asarray(feats, dtype=np.float64)
    d = (feats.shape[-1] - len(STAT_NAMES)) // 2
    return feats[..., :d]


def cosine(prompt_feats: np.ndarray, reply_feats: np.ndarray) -> np.ndarray:
    """Relevance of each reply row to the prompt row, from their feature rows."""
    p = mean_embedding(prompt_feats)
    r = mean_embedding(np.atleast_2d(reply_feats))
    p = p / max(float(np.linalg.norm(p)), 1e-12)
    r = r / np.maximum(np.linalg.norm(r, axis=1, keepdims=True), 1e-12)
    return r @ p
