"""`prefchat train --backbone`: a causal-LM basis (prefchat.reward.nets.BackboneReward) trained on
pairwise data with the engine (PReF: SVD init, pair-factor regression, refitted users, regularised
Bradley-Terry MLE), written as a basis directory by prefchat.basis.write.

transformers and peft are imported inside functions, and nothing imports this module until a backbone
is trained."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from prefchat.basis.axes import trait_axes
from prefchat.basis.backbone_scorer import BackboneScorer, base_identity, save_trained
from prefchat.basis.encoders import default_device
from prefchat.basis.format import FORMAT, FORMAT_VERSION, Pool
from prefchat.basis.write import write_basis
from prefchat.data import load_corpus
from prefchat.data import check_usable
from prefchat.reward.data import Preferences
from prefchat.reward.distributed import wrap_ddp
from prefchat.reward.elicit import population_prior
from prefchat.reward.metrics import auc
from prefchat.reward.nets import DEFAULT_BACKBONE, BackboneReward, TokenizedResponses, load_backbone

Progress = Callable[[str, int, int], None]


def _split_prompts(data, heldout: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Pair indices of training and validation prompts (whole prompts are held out)."""
    keys = np.unique(data.pairs.prompt_ids)
    rng = np.random.default_rng(seed)
    n_out = int(round(heldout * keys.size)) if keys.size >= 5 else 0
    out_keys = set(rng.permutation(keys)[:n_out].tolist())
    is_out = np.array([k in out_keys for k in data.pairs.prompt_ids], dtype=bool)
    return np.flatnonzero(~is_out), np.flatnonzero(is_out)


def _obs_auc(lam: np.ndarray, diffs: np.ndarray, prefs, pair_rows: np.ndarray) -> float:
    keep = np.isin(prefs.pair, pair_rows)
    if not keep.any():
        return float("nan")
    s = np.einsum("kj,kj->k", lam[prefs.user[keep]], diffs[prefs.pair[keep]])
    return auc(s, prefs.outcome[keep])


def train_backbone_basis(data, out_dir: str | Path | None, backbone: str = DEFAULT_BACKBONE, mode: str = "lora",
                         dims: int = 8, seed: int = 0, epochs: int = 3, init_epochs: int | None = None,
                         batch_size: int = 64, accumulate: int = 1, lr: float = 1e-3,
                         backbone_lr: float | None = None, beta: float = 0.02, max_length: int = 512,
                         svd_init: bool = True, heldout: float = 0.2, device: str | None = None,
                         parallel: Any = None, pool_corpus: str | Path | None = None, name: str | None = None,
                         progress: Progress | None = None, bucket_tokens: int = 0, fused: bool | None = None) -> dict:
    """Train a causal-LM basis on a PairwiseData (prefchat.data) and write the basis directory.

    With `parallel` (prefchat.reward.distributed.Parallel), every process trains on its shard of each
    minibatch under DDP and only rank 0 writes. Returns basis.json's content (plus `_user_vectors`).

    Speed only, the same training either way: bucket_tokens > 0 runs each training forward in length
    buckets of at most that many padded tokens (BackboneReward._bucketed: little padding when answer
    lengths vary); fused picks the single-kernel Adam/AdamW update (None: on a GPU)."""
    import torch

    from prefchat.reward.factorize import PReF

    t0 = time.perf_counter()
    warnings = check_usable(data, require_overlap=svd_init)
    device = device or (parallel.device if parallel is not None else default_device())
    on_gpu = device.startswith("cuda")
    torch.manual_seed(seed)
    # Full fine-tuning keeps fp32 master weights and runs the forward in bf16 (autocast); LoRA and a
    # frozen backbone keep the frozen base in bf16 on a GPU, halving its memory and bandwidth.
    base_dtype = "bfloat16" if on_gpu and mode != "full" else "float32"
    tok, base = load_backbone(backbone, dtype=base_dtype)
    model = BackboneReward(base, dims, mode=mode, backbone_lr=backbone_lr, bucket_tokens=bucket_tokens)

    # The onboarding pool's corpus is read first, so a bad --pool-corpus fails before training does.

    main = parallel is None or parallel.rank == 0
    corpus = (data.extra.get("corpus") or load_corpus(pool_corpus)) if out_dir is not None and main else None

    train_idx, val_idx = _split_prompts(data, heldout, seed)
    # Train on the training prompts' pairs only, re-indexed so the preference matrix has no empty columns.
    remap = np.full(len(data.pairs), -1, dtype=np.int64)
    remap[train_idx] = np.arange(train_idx.size)
    keep = remap[data.prefs.pair] >= 0
    prefs = Preferences(data.prefs.user[keep], remap[data.prefs.pair[keep]], data.prefs.outcome[keep],
                        data.prefs.n_users, train_idx.size)
    inputs = TokenizedResponses(tok, data.prompts, data.responses, max_length)

    if parallel is not None:
        model.to(device)
        fit_model = wrap_ddp(model, parallel)
    else:
        fit_model = model
    pref = PReF(n_components=dims, beta=beta, svd_init=svd_init, init_epochs=init_epochs or epochs,
                epochs=epochs, lr=lr, batch_size=batch_size, weight_decay=0.0, seed=seed, device=device,
                accumulate=accumulate, autocast="bfloat16" if on_gpu else None, parallel=parallel, fused=fused)
    pref.fit(fit_model, inputs, data.pairs.subset(train_idx), prefs, progress=progress)
    model.eval()

    with torch.no_grad():
        phi = np.asarray(model(inputs[np.arange(len(inputs))]).double().cpu().numpy())
    diffs = phi[data.pairs.a] - phi[data.pairs.b]
    lam = pref.user_vectors_
    train_auc = _obs_auc(lam, diffs, data.prefs, train_idx)
    val_auc = _obs_auc(lam, diffs, data.prefs, val_idx)
    mean, precision = population_prior(lam)
    meta = {"format": FORMAT, "version": FORMAT_VERSION, "name": name or (Path(out_dir).name if out_dir else "basis"),
            "dims": dims, "_user_vectors": lam}
    if out_dir is None or (parallel is not None and parallel.rank != 0):
        return meta

    out = Path(out_dir)
    identity = {"kind": "causal-lm", **base_identity(backbone), "max_length": max_length,
                "last_token": True, "chat_template": bool(getattr(tok, "chat_template", None))}
    head, identity = save_trained(model, tok, out, identity)

    # The onboarding pool: every within-prompt pair of a corpus (the training corpus when the data
    # is one, else the shipped corpus), so the quiz works with this basis as with the default one.
    scorer = BackboneScorer(tok, model, device, max_length)
    prompt_of = [corpus.prompts[corpus.prompt_ids[i]] for i in corpus.response_prompt]
    cphi = scorer.phi(corpus.texts, prompt_of)
    pa, pb, pp = corpus.pairs()
    ids = np.array(corpus.response_ids)
    pool = Pool(pp, ids[pa], ids[pb], cphi[pa] - cphi[pb])
    axes = []
    if corpus.traits is not None and len(corpus.texts) > 10:
        ha, hb, _ = corpus.pairs()
        axes = trait_axes(cphi, corpus.traits, np.arange(len(corpus.texts)), ha, hb)

    meta.update({
        "encoder": identity,
        "input": {"reads": "chat-formatted prompt + response; last-token hidden state", "max_length": max_length},
        "training": {"data": data.source, "data_sha256": data.sha256, "seed": seed, "mode": mode,
                     "n_users": data.prefs.n_users, "n_pairs": int(train_idx.size),
                     "n_heldout_pairs": int(val_idx.size), "observations": int(len(prefs)),
                     "density": data.density, "beta": beta, "epochs": epochs, "batch_size": batch_size,
                     "accumulate": accumulate, "bucket_tokens": bucket_tokens, "lr": lr, "backbone_lr": model.backbone_lr,
                     "world_size": parallel.world_size if parallel is not None else 1,
                     "device": device, "warnings": warnings,
                     "seconds": round(time.perf_counter() - t0, 1)},
        "metrics": {"train_auc": train_auc, "val_auc": val_auc, "elbow": pref.elbow_,
                    "spectrum": [round(float(s), 3) for s in pref.spectrum_[:20]]},
        "axes": axes,
        "prior": {"mean": mean.tolist(), "precision": precision.tolist()},
    })
    meta.pop("_user_vectors")
    meta = write_basis(out, meta, head, pool)
    np.save(out / "train_user_vectors.npy", lam)  # for comparisons/refits; not read by the app
    meta["_user_vectors"] = lam
    return meta
