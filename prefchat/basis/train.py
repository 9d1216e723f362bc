"""`prefchat train`: the shipped basis from a corpus, with the engine (SVD init + regularised MLE).

Train users (the paper's two-trait users of the split's train half) on train prompts form the
preference matrix; held-out prompts give the validation figure. Encoder outputs are cached on disk
keyed by the encoder identity and the texts, so retraining the head takes seconds."""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path
from typing import Callable

import numpy as np

from prefchat.basis.axes import trait_axes
from prefchat.basis.encoders import MiniLMEncoder
from prefchat.basis.format import FORMAT, FORMAT_VERSION, Pool
from prefchat.basis.write import write_basis
from prefchat.data import Corpus, load_corpus, simulate
from prefchat.data.splits import load_split, make_split
from prefchat.paths import ensure_dir, features_cache_dir
from prefchat.reward.data import PairTable, Preferences
from prefchat.reward.elicit import population_prior
from prefchat.reward.evaluate import fixed_scores

Progress = Callable[[str, int, int], None]


def cached_features(encoder, texts: list[str], progress: Progress | None = None) -> np.ndarray:
    """Encoder features for texts, cached one file per text under the encoder identity, so editing a
    few responses re-encodes only those."""
    ident = hashlib.sha256(json.dumps(encoder.identity, sort_keys=True).encode()).hexdigest()[:16]
    folder = features_cache_dir() / ident
    keys = [hashlib.sha256(t.encode()).hexdigest()[:32] for t in texts]
    encoder = encoder.reference() if hasattr(encoder, "reference") else encoder  # not the bf16 fast path
    out: list[np.ndarray | None] = []
    for k in keys:
        f = folder / f"{k}.npy"
        try:
            out.append(np.load(f, allow_pickle=False) if f.is_file() else None)
        except (OSError, ValueError):
            out.append(None)  # a damaged cache entry is simply recomputed
    todo = [i for i, v in enumerate(out) if v is None]
    ensure_dir(folder)
    step = 32
    for s in range(0, len(todo), step):
        idx = todo[s:s + step]
        feats = encoder.features([texts[i] for i in idx])
        for i, v in zip(idx, feats):
            out[i] = v
            tmp = folder / f"{keys[i]}.{os.getpid()}.tmp.npy"
            np.save(tmp, v)
            os.replace(tmp, folder / f"{keys[i]}.npy")
        if progress:
            progress("encode", min(s + step, len(todo)), len(todo))
    return np.stack(out).astype(np.float32) if out else np.zeros((0, 0), dtype=np.float32)


def train_basis(corpus_path: str | Path | None, out_dir: str | Path, dims: int = 8, seed: int = 0,
                name: str | None = None, epochs: int = 150, head_l2: float = 1.0,
                progress: Progress | None = None) -> dict:
    import torch

    from prefchat.basis.scorer import StyleHead
    from prefchat.reward.factorize import PReF

    t0 = time.perf_counter()
    corpus: Corpus = load_corpus(corpus_path)
    split = load_split(corpus) or make_split(corpus)
    encoder = MiniLMEncoder()
    feats = cached_features(encoder, corpus.texts, progress)

    users = split.population("paper").subset(split.train_users["paper"])
    a, b, p = corpus.pairs(split.train_prompts)
    outcomes = simulate(users, corpus.traits, a, b, seed=seed)
    uu, mm = np.meshgrid(np.arange(len(users)), np.arange(len(a)), indexing="ij")
    prefs = Preferences(uu.ravel(), mm.ravel(), outcomes.ravel(), len(users), len(a))

    torch.manual_seed(seed)
    head = StyleHead(feats.shape[1], dims)
    train_rows = np.unique(np.concatenate([a, b]))
    head.set_standardisation(feats[train_rows])
    X = torch.as_tensor(feats, dtype=torch.float32)
    pref = PReF(n_components=dims, seed=seed, init_epochs=epochs, epochs=epochs, weight_decay=0.0,
                head_l2=head_l2)
    # One thread for the head's training: multi-threaded float reductions differ from run to run in
    # the last bits, and then the fingerprint of a retrained basis would never match the shipped one.
    # The head is small; one thread costs little here.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        pref.fit(head, X, PairTable(a, b, p), prefs, progress=progress)
    finally:
        torch.set_num_threads(threads)
    phi = pref.transform(X)

    ha, hb, hp = corpus.pairs(split.heldout_prompts)
    val_out = simulate(users, corpus.traits, ha, hb, seed=seed + 1)
    train_auc = fixed_scores(pref.user_vectors_ @ (phi[a] - phi[b]).T, outcomes)[0]
    val_auc = fixed_scores(pref.user_vectors_ @ (phi[ha] - phi[hb]).T, val_out)[0]
    axes = trait_axes(phi, corpus.traits, train_rows, ha, hb)
    mean, precision = population_prior(pref.user_vectors_)

    pa, pb, pp = corpus.pairs()
    ids = np.array(corpus.response_ids)
    pool = Pool(pp, ids[pa], ids[pb], phi[pa] - phi[pb])
    meta = {
        "format": FORMAT, "version": FORMAT_VERSION, "name": name or Path(out_dir).name, "dims": dims,
        "encoder": encoder.identity,
        "input": {"n_features": int(feats.shape[1]), "reads": "response text (MiniLM) + surface statistics"},
        "training": {"corpus": corpus.path.name, "corpus_sha256": corpus.sha256, "seed": seed,
                     "users": "paper two-trait users, split train half", "n_users": len(users),
                     "n_pairs": len(a), "density": prefs.density, "beta": pref.beta, "epochs": epochs, "head_l2": head_l2,
                     "seconds": round(time.perf_counter() - t0, 1)},
        "metrics": {"train_auc": train_auc, "val_auc": val_auc, "elbow": pref.elbow_,
                    "spectrum": [round(float(s), 3) for s in pref.spectrum_[:20]]},
        "axes": axes,
        "prior": {"mean": mean.tolist(), "precision": precision.tolist()},
    }
    return write_basis(out_dir, meta, head.state_dict(), pool)
