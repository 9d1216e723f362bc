"""`prefchat bench basis`: basis model speed on this device (training pairs/s, scoring responses/s,
scoring latency), for a causal-LM backbone or the shipped MiniLM basis."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from prefchat.basis.backbone_capture import CAPTURES
from prefchat.basis.encoders import default_device
from prefchat.bench.machine import machine
from prefchat.bench.scoring import bench_minilm, report_minilm
from prefchat.errors import PrefchatError
from prefchat.paths import bench_cache_dir

MINILM_JSON = ("cpu_8x200_ms", "phi_corr_vs_fp32")  # all `--json` prints for the MiniLM basis
# Issue 16's GPU targets for the Qwen2.5-0.5B-shaped backbone (bf16, H200).
TARGETS = {"latency_8x256_ms": 10.0, "train_pairs_per_s": 600.0}
PARTS = ("both", "train", "score")


def measure(backbone: str | None = None, make_tiny: str | None = None, mode: str = "lora",
            device: str | None = None, train_pairs: int = 32, train_tokens: int = 128, accumulate: int = 1,
            steps: int = 10, runs: int = 20, threads: int = 0, compare: bool = True,
            note: Callable[[str], None] = lambda _: None, part: str = "both", capture: str = "off",
            fused: bool | None = None, compile_train: bool = False, bucket_tokens: int = 0,
            mixed_lengths: bool = False) -> dict:
    """Without backbone or make_tiny: the shipped MiniLM basis's scoring latency (with compare, the
    plain fp32 path is timed too). Otherwise a causal LM's training and scoring throughput, after
    building the random-weight subject if make_tiny asks for it (note() hears that). The speed paths
    (capture, fused, compile_train, bucket_tokens) are prefchat.bench.backbone.bench_backbone's."""
    if make_tiny:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if backbone is None and make_tiny is None:
        return bench_minilm(runs, compare=compare, threads=threads)
    from prefchat.bench import backbone as bb
    from prefchat.reward.nets import MODES

    if mode not in MODES:
        raise PrefchatError(f"--mode must be one of {', '.join(MODES)}, not {mode!r}")
    if part not in PARTS:
        raise PrefchatError(f"--part must be one of {', '.join(PARTS)}, not {part!r}")
    if capture not in CAPTURES:
        raise PrefchatError(f"--capture must be one of {', '.join(CAPTURES)}, not {capture!r}")
    if bucket_tokens < 0:
        raise PrefchatError(f"--bucket-tokens must be 0 (off) or a positive token count, not {bucket_tokens}")
    dev = device or default_device()
    if make_tiny:
        if make_tiny != "qwen05b":
            raise PrefchatError("--make-tiny must be qwen05b")
        if backbone is None:
            backbone = str(bench_cache_dir() / "random-qwen05b-basis-hf")
        if not (Path(backbone) / "config.json").exists():
            note(f"writing random-weight Qwen2.5-0.5B-shaped model to {backbone} ...")
            bb.write_random_qwen05b(backbone, device=dev)
    out = bb.bench_backbone(backbone, dev, mode=mode, train_pairs=train_pairs, train_tokens=train_tokens,
                            accumulate=accumulate, steps=steps, part=part, capture=capture, fused=fused,
                            compile_train=compile_train, bucket_tokens=bucket_tokens, mixed_lengths=mixed_lengths)
    out["backbone"] = backbone
    out["targets"] = dict(TARGETS)
    out["machine"] = machine()
    return out


def as_json(out: dict) -> dict:
    """What `--json` prints: for the MiniLM basis exactly its two figures; for a backbone, everything."""
    return out if "backbone" in out else {k: out[k] for k in MINILM_JSON}


def report(out: dict) -> str:
    """The text report of either measurement."""
    if "backbone" not in out:
        return report_minilm(out, machine())
    lat_target, pairs_target = TARGETS["latency_8x256_ms"], TARGETS["train_pairs_per_s"]
    lines = [f"backbone {out['backbone']} on {out.get('gpu', out['device'])} ({out['dtype']}, mode {out['mode']}"
             + (f", {out['trainable_params']:,} trainable parameters)" if "trainable_params" in out else ")")]
    if "train" in out:
        t = out["train"]
        p = t["path"]
        lines.append(
            f"  training: {t['pairs_per_s']:.1f} pairs/s ({t['tokens_per_s']:.0f} real tokens/s; {t['pairs_per_step']} "
            f"pairs x 2 responses x {'<= ' if p['mixed_lengths'] else ''}{t['tokens_per_response']} tokens per step, "
            f"accumulate {t['accumulate']})  [target >= {pairs_target:.0f} pairs/s on GPU: "
            f"{'met' if t['pairs_per_s'] >= pairs_target else 'missed'}]")
        failed = f" (compile failed: {p['compile_error']})" if "compile_error" in p else ""
        lines.append(f"    path: fused AdamW {p['fused_adamw']}, compiled {p['compiled']}, length buckets "
                     f"{p['bucket_tokens'] or 'off'}{failed}")
    if "score" in out:
        s, lat = out["score"], out["latency_8x256_ms"]
        lines += [
            f"  scoring: {s['responses_per_s']:.1f} responses/s (batch {s['batch']} x {s['tokens_per_response']} tokens); "
            f"path {s['path']} (asked: {s['capture']}{'; ' + s['capture_note'] if s['capture_note'] else ''})",
            f"  latency to score 8 x 256 tokens: median {lat['median']:.2f} ms (min {lat['min']:.2f}, "
            f"{lat['runs']} runs)  [target <= {lat_target:.0f} ms on GPU: {'met' if lat['median'] <= lat_target else 'missed'}]",
        ]
    lines.append(f"  machine: {out['machine']}")
    return "\n".join(lines)
