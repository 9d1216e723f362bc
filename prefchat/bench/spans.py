"""`prefchat bench basis --spans`: issue 16's route "per-sentence vectors pooled from one pass over the
whole response (token spans), instead of one pass per sentence", against the shipped fast path (every
sentence of every response packed into one pass, attention inside each sentence).

It measures both on the same 8 responses of ~200 tokens (interleaved runs, medians), and how far the
features move before any retraining: the cosine between each sentence's span-pooled vector and its
vector encoded alone, and the correlation of phi through the shipped head. A route that changes the
features needs a retrained basis (the issue's rule); this says whether the speed would be worth it."""

from __future__ import annotations

import os
import statistics
import time

import numpy as np

from prefchat.basis import load_basis
from prefchat.basis.encoders import split_sentences, text_stats
from prefchat.bench.scoring import bench_texts
from prefchat.data import load_corpus
from prefchat.omp import prefer_passive_waits


def sentence_token_spans(text: str, offsets: list[tuple[int, int]]) -> list[list[int]]:
    """For each sentence of `text` (split_sentences, as the features use), the indices of its tokens:
    those whose character span lies inside the sentence. Special tokens (empty spans) belong to none."""
    spans, pos = [], 0
    for s in split_sentences(text) or [text]:
        a = text.find(s, pos)
        b = a + len(s)
        pos = b
        spans.append([j for j, (o0, o1) in enumerate(offsets) if o1 > o0 and o0 >= a and o1 <= b])
    return spans


def span_features(fast, texts: list[str]) -> tuple[np.ndarray, list[np.ndarray]]:
    """The shipped feature layout (mean and max of sentence vectors, then the surface statistics) with
    sentence vectors pooled from one pass over each whole response; also the sentence vectors."""
    encs = fast.tokenizer.encode_batch(texts, add_special_tokens=True)
    x = fast.hidden_states([e.ids for e in encs]).float().numpy()
    start = np.concatenate([[0], np.cumsum([len(e.ids) for e in encs])[:-1]])
    means, maxes, vectors = [], [], []
    for r, (t, e) in enumerate(zip(texts, encs)):
        rows = []
        for span in sentence_token_spans(t, e.offsets):
            v = x[start[r] + np.asarray(span or [0])].mean(0)  # a sentence with no token: the [CLS] row
            rows.append(v / np.linalg.norm(v))
        rows = np.asarray(rows)
        vectors.append(rows)
        means.append(rows.mean(0))
        maxes.append(rows.max(0))
    return np.concatenate([means, maxes, text_stats(texts)], axis=1).astype(np.float32), vectors


def measure(runs: int = 20) -> dict:
    prefer_passive_waits()
    import torch

    from prefchat.basis.scorer import load_scorer

    basis = load_basis()
    scorer = load_scorer(basis, device="cpu", fast=True)
    enc = scorer.encoder
    enc.encode(["warm up"])
    fast = enc._fast
    texts = load_corpus().texts
    batch = bench_texts(lambda s: len(fast.token_ids([s])[0]), texts)
    sentence_runs, span_runs = [], []
    enc.features(batch), span_features(fast, batch)  # warm-up
    for _ in range(runs):  # interleaved, so both see the same load
        t0 = time.perf_counter()
        enc.features(batch)
        t1 = time.perf_counter()
        span_features(fast, batch)
        t2 = time.perf_counter()
        sentence_runs.append((t1 - t0) * 1e3)
        span_runs.append((t2 - t1) * 1e3)
    sample = batch + list(texts[::max(len(texts) // 56, 1)][:56])
    spans_f, vectors = span_features(fast, sample)
    alone = enc.encode([s for t in sample for s in (split_sentences(t) or [t])])
    cos = (alone * np.concatenate(vectors)).sum(1)
    with torch.inference_mode():
        p_sent = scorer.head(torch.as_tensor(enc.features(sample))).double().numpy()
        p_span = scorer.head(torch.as_tensor(spans_f)).double().numpy()
    per_dim = [float(np.corrcoef(p_sent[:, j], p_span[:, j])[0, 1]) for j in range(p_sent.shape[1])]
    sent_ms, span_ms = statistics.median(sentence_runs), statistics.median(span_runs)
    return {"sentences_ms": sent_ms, "spans_ms": span_ms, "speedup": sent_ms / span_ms, "runs": runs,
            "sentences": int(len(alone)), "sentence_cosine_median": float(np.median(cos)),
            "sentence_cosine_min": float(cos.min()), "phi_corr_per_dim": per_dim,
            "phi_corr_min_per_dim": min(per_dim), "loadavg_1min": round(os.getloadavg()[0], 2)}


def report(out: dict, machine: str) -> str:
    return "\n".join([
        f"features of 8 responses of ~200 tokens: one pass per sentence (shipped) {out['sentences_ms']:.1f} ms, "
        f"one pass per response + token spans {out['spans_ms']:.1f} ms: {out['speedup']:.2f}x "
        f"(medians of {out['runs']} interleaved runs)",
        f"sentence vectors, span-pooled vs encoded alone ({out['sentences']} sentences): cosine median "
        f"{out['sentence_cosine_median']:.3f}, lowest {out['sentence_cosine_min']:.3f}",
        f"phi through the shipped head, no retraining: lowest per-direction correlation "
        f"{out['phi_corr_min_per_dim']:.3f} (rule for an unchanged basis: >= 0.999)",
        f"machine: {machine}; load avg {out['loadavg_1min']}",
    ])
