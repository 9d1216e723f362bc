"""`prefchat bench basis`: basis model speed on this device (training pairs/s, scoring responses/s,
scoring latency), for a causal-LM backbone or the shipped MiniLM basis."""

from __future__ import annotations

import json
import os
from pathlib import Path

import typer

from prefchat.basis.encoders import default_device
from prefchat.bench.machine import machine
from prefchat.bench.scoring import bench_minilm, report_minilm
from prefchat.errors import PrefchatError


def bench_basis(
    backbone: str = typer.Option(None, "--backbone", help="Causal LM (local dir or hub id) to measure as a basis "
                                 "model. Without it: the shipped MiniLM basis's scoring latency."),
    make_tiny: str = typer.Option(None, "--make-tiny", help="qwen05b: build a random-weight Qwen2.5-0.5B-shaped "
                                  "model (896 wide, 24 layers, 14/2 heads, ffn 4864, the real 151,936-token "
                                  "vocabulary; bf16) at --backbone (or the cache) if absent; no hub access."),
    mode: str = typer.Option("lora", "--mode", help="Training mode measured: lora, full or frozen."),
    device: str = typer.Option(None, "--device", help="cpu, cuda, cuda:N [default: cuda if available]."),
    train_pairs: int = typer.Option(32, "--train-pairs", help="Pairs per optimiser step."),
    train_tokens: int = typer.Option(128, "--train-tokens", help="Tokens per response in the training step."),
    accumulate: int = typer.Option(1, "--accumulate", help="Micro-batches per step (gradient accumulation)."),
    steps: int = typer.Option(10, "--steps", help="Timed training steps."),
    runs: int = typer.Option(20, "--runs", help="Timed scoring runs for the MiniLM latency."),
    threads: int = typer.Option(0, "--threads", help="torch threads for the MiniLM timing (0: torch's default)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Basis model speed on this device: training pairs/s, scoring responses/s, and scoring latency.

    Latency: the median to score 8 responses (x 256 tokens for a backbone; ~200 tokens with the
    MiniLM basis).
    GPU targets for Qwen2.5-0.5B shape: 8x256 scoring <= 15 ms, bf16 training >= 500 pairs/s."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1") if make_tiny else None
    if backbone is None and make_tiny is None:
        out = bench_minilm(runs, compare=not as_json, threads=threads)
        keys = ("cpu_8x200_ms", "phi_corr_vs_fp32")
        typer.echo(json.dumps({k: out[k] for k in keys}) if as_json else report_minilm(out, machine()))
        return
    else:
        from prefchat.bench import backbone as bb
        from prefchat.reward.nets import MODES

        if mode not in MODES:
            raise PrefchatError(f"--mode must be one of {', '.join(MODES)}, not {mode!r}")
        dev = device or default_device()
        if make_tiny:
            if make_tiny != "qwen05b":
                raise PrefchatError("--make-tiny must be qwen05b")
            if backbone is None:
                try:
                    from platformdirs import user_cache_dir

                    cache = Path(user_cache_dir("prefchat"))
                except ImportError:  # a bare GPU machine may lack platformdirs
                    cache = Path.home() / ".cache" / "prefchat"
                backbone = str(cache / "bench" / "random-qwen05b-basis-hf")
            if not (Path(backbone) / "config.json").exists():
                typer.echo(f"writing random-weight Qwen2.5-0.5B-shaped model to {backbone} ...", err=True)
                bb.write_random_qwen05b(backbone, device=dev)
        out = bb.bench_backbone(backbone, dev, mode=mode, train_pairs=train_pairs, train_tokens=train_tokens,
                                accumulate=accumulate, steps=steps)
        out["backbone"] = backbone
        out["targets"] = {"latency_8x256_ms": 15.0, "train_pairs_per_s": 500.0}
    out["machine"] = machine()
    if as_json:
        typer.echo(json.dumps(out))
        return
    t, s, lat = out["train"], out["score"], out["latency_8x256_ms"]
    typer.echo(f"backbone {out['backbone']} on {out.get('gpu', out['device'])} ({out['dtype']}, mode {out['mode']}, "
               f"{out['trainable_params']:,} trainable parameters)")
    typer.echo(f"  training: {t['pairs_per_s']:.1f} pairs/s ({t['tokens_per_s']:.0f} tokens/s; {t['pairs_per_step']} "
               f"pairs x 2 responses x {t['tokens_per_response']} tokens per step, accumulate {t['accumulate']})"
               f"  [target >= 500 pairs/s on GPU: {'met' if t['pairs_per_s'] >= 500 else 'missed'}]")
    typer.echo(f"  scoring: {s['responses_per_s']:.1f} responses/s (batch {s['batch']} x {s['tokens_per_response']} tokens)")
    typer.echo(f"  latency to score 8 x 256 tokens: median {lat['median']:.2f} ms (min {lat['min']:.2f}, "
               f"{lat['runs']} runs)  [target <= 15 ms on GPU: {'met' if lat['median'] <= 15 else 'missed'}]")
    typer.echo(f"  machine: {out['machine']}")
