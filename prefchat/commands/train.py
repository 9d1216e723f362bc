"""`prefchat train`: learn a reward basis from a corpus file."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def train(
    corpus: Optional[Path] = typer.Option(None, "--corpus", help="Corpus JSONL (default: the shipped style corpus)."),
    out: Path = typer.Option(..., "--out", help="Basis directory to write."),
    dims: int = typer.Option(8, "--dims", min=1, max=64, help="J, the number of base reward functions."),
    seed: int = typer.Option(0, "--seed", help="Seed for simulated users and training."),
    epochs: int = typer.Option(300, "--epochs", min=1, help="Epochs for each training phase."),
) -> None:
    """Train a reward basis (SVD initialisation + regularised Bradley-Terry MLE) and its onboarding pool."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from prefchat.basis_train import train_basis

    con = Console(stderr=True)
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  TimeElapsedColumn(), console=con) as bar:
        tasks: dict[str, int] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task({"encode": "encoding responses", "init": "fitting SVD factors",
                                             "joint": "Bradley-Terry refinement"}.get(stage, stage), total=total)
            bar.update(tasks[stage], completed=done)

        meta = train_basis(corpus, out, dims=dims, seed=seed, epochs=epochs, progress=progress)
    m = meta["metrics"]
    typer.echo(f"wrote {out}  J={dims}  train AUC {m['train_auc']:.3f}  validation AUC {m['val_auc']:.3f}  "
               f"({meta['training']['seconds']} s)")
    for ax in meta["axes"]:
        typer.echo(f"  {ax['neg']:>11} ↔ {ax['pos']:<12} captured {ax['captured']:.2f}")
