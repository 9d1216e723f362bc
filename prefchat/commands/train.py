"""`prefchat train`: learn a reward basis from a corpus file."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from prefchat.basis.train import train_basis
from prefchat.paths import shipped_corpus_path
from prefchat.data.corpus import load_corpus, require_prompts
from prefchat.errors import PrefchatError
from prefchat.data import check_usable, load_data
from prefchat.reward.distributed import init_from_env, shutdown


def train(
    corpus: Optional[Path] = typer.Option(None, "--corpus", help="Corpus JSONL (default: the shipped style corpus)."),
    out: Path = typer.Option(..., "--out", help="Basis directory to write."),
    dims: int = typer.Option(8, "--dims", min=1, max=64, help="J, the number of base reward functions."),
    seed: int = typer.Option(0, "--seed", help="Seed for simulated users and training."),
    epochs: int = typer.Option(150, "--epochs", min=1, help="Epochs for each training phase."),
    head_l2: float = typer.Option(1.0, "--head-l2", min=0.0,
                                  help="Ridge penalty on the head weights (chosen by validation AUC)."),
    data: Optional[str] = typer.Option(None, "--data", help="FORMAT:FILE preference data (pairwise, corpus, "
                                       "prism, tldr, psoups); trains a transformers backbone basis."),
    backbone: Optional[str] = typer.Option(None, "--backbone", help="Causal LM (hub id or local dir) to train "
                                           "as the basis model [default with --data: Qwen/Qwen2.5-0.5B]."),
    mode: str = typer.Option("lora", "--mode", help="Backbone training: lora, full or frozen (head only)."),
    batch_size: int = typer.Option(64, "--batch-size", min=1, help="Observations per optimiser step (backbone)."),
    accumulate: int = typer.Option(1, "--accumulate", min=1, help="Micro-batches per step (gradient accumulation)."),
    lr: float = typer.Option(1e-3, "--lr", help="Learning rate of the head and user vectors (backbone)."),
    backbone_lr: Optional[float] = typer.Option(None, "--backbone-lr", help="Backbone learning rate "
                                                "[default: 1e-5 full, 2e-4 lora]."),
    max_length: int = typer.Option(512, "--max-length", min=8, help="Tokens per chat-formatted response."),
    svd_init: bool = typer.Option(True, "--svd-init/--no-svd-init", help="SVD initialisation (needs users "
                                  "who judged the same pairs)."),
    device: Optional[str] = typer.Option(None, "--device", help="cpu, cuda, cuda:N [default: cuda if available]."),
    pool_corpus: Optional[Path] = typer.Option(None, "--pool-corpus", help="Corpus whose pairs form the "
                                               "onboarding pool [default: the data's corpus, else the shipped one]."),
    bucket_tokens: int = typer.Option(0, "--bucket-tokens", min=0, help="Backbone: run each training forward in "
                                      "length buckets of at most this many padded tokens (less padding when "
                                      "answer lengths vary; the same training) [default 0: one padded batch]."),
) -> None:
    """Train a reward basis (SVD initialisation + regularised Bradley-Terry MLE) and its onboarding pool.

    With --data or --backbone: a transformers backbone basis; under `torchrun --nproc_per_node K -m
    prefchat train ...` it trains with DDP on K GPUs (NCCL) or K CPU processes (gloo)."""
    if data is not None or backbone is not None:
        return _train_backbone(corpus, out, dims, seed, epochs, data, backbone, mode, batch_size, accumulate,
                               lr, backbone_lr, max_length, svd_init, device, pool_corpus, bucket_tokens)

    require_prompts(load_corpus(corpus), 2, "train")  # a clear line, before loading the encoder
    con = Console(stderr=True)
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  TimeElapsedColumn(), console=con) as bar:
        tasks: dict[str, int] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task({"encode": "encoding responses", "init": "fitting SVD factors",
                                             "joint": "Bradley-Terry refinement"}.get(stage, stage), total=total)
            bar.update(tasks[stage], completed=done)

        meta = train_basis(corpus, out, dims=dims, seed=seed, epochs=epochs, head_l2=head_l2,
                           progress=progress)
    m = meta["metrics"]
    typer.echo(f"wrote {out}  J={dims}  train AUC {m['train_auc']:.3f}  validation AUC {m['val_auc']:.3f}  "
               f"({meta['training']['seconds']} s)")
    spec = ", ".join(f"{v:.1f}" for v in m["spectrum"][:12])
    typer.echo(f"  singular values of the completed preference matrix: {spec} …  elbow at J={m['elbow']}")
    for ax in meta["axes"]:
        typer.echo(f"  {ax['neg']:>11} ↔ {ax['pos']:<12} captured {ax['captured']:.2f}")


def _train_backbone(corpus, out, dims, seed, epochs, data, backbone, mode, batch_size, accumulate, lr,
                    backbone_lr, max_length, svd_init, device, pool_corpus, bucket_tokens=0) -> None:
    from prefchat.basis.train_backbone import train_backbone_basis
    from prefchat.reward.nets import DEFAULT_BACKBONE, MODES

    if mode not in MODES:
        raise PrefchatError(f"--mode must be one of {', '.join(MODES)}, not {mode!r}")
    if data is not None and corpus is not None:
        raise PrefchatError("give --data or --corpus, not both (--data corpus:FILE reads a corpus too)")
    spec = data if data is not None else f"corpus:{corpus}" if corpus is not None else None
    if spec is None:
        spec = f"corpus:{shipped_corpus_path()}"
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")  # several processes share the cores
    ds = load_data(spec, seed=seed)
    parallel = init_from_env(device)
    main = parallel is None or parallel.is_main
    try:
        for w in check_usable(ds, require_overlap=svd_init):
            if main:
                typer.echo(f"warning: {w}", err=True)
        if main:
            s = ds.summary()
            typer.echo(f"{s['source']}: {s['users']} users, {s['pairs']} pairs, {s['observations']} comparisons, "
                       f"density {s['density']:.4f} (observed fraction of users x pairs), "
                       f"{s['pairs_seen_by_2plus_users']} pairs judged by 2+ users", err=True)

        def progress(stage: str, done: int, total: int) -> None:
            if main and (done == total or done % max(1, total // 10) == 0):
                typer.echo(f"  {stage} {done}/{total}", err=True)

        meta = train_backbone_basis(ds, out, backbone=backbone or DEFAULT_BACKBONE, mode=mode, dims=dims,
                                    seed=seed, epochs=epochs, batch_size=batch_size, accumulate=accumulate,
                                    lr=lr, backbone_lr=backbone_lr, max_length=max_length, svd_init=svd_init,
                                    device=None if parallel else device, parallel=parallel,
                                    pool_corpus=pool_corpus, progress=progress, bucket_tokens=bucket_tokens)
    finally:
        if parallel is not None:
            shutdown()
    if main:
        m, t = meta["metrics"], meta["training"]
        typer.echo(f"wrote {out}  J={dims}  {mode} on {t['world_size']} process(es), {t['device']}  "
                   f"train AUC {m['train_auc']:.3f}  validation AUC {m['val_auc']:.3f}  ({t['seconds']} s)")
