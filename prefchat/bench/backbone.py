"""`prefchat bench basis --backbone`: the random-weight Qwen2.5-0.5B-shaped subject and the
training/scoring throughput measurements of a causal-LM basis."""

from __future__ import annotations

import statistics
import time
from pathlib import Path

from prefchat.basis.backbone_capture import CapturedScorer
from prefchat.bench.synthetic import write_random_hf
from prefchat.errors import first_line
from prefchat.reward.nets import BackboneReward, load_backbone

# The real Qwen2.5-0.5B dimensions, for the random-weight benchmark subject.
QWEN05B_SHAPE = dict(hidden_size=896, num_hidden_layers=24, num_attention_heads=14, num_key_value_heads=2,
                     intermediate_size=4864, vocab_size=151936, max_position_embeddings=32768,
                     rope_theta=1000000.0, rms_norm_eps=1e-6, tie_word_embeddings=True)



def write_random_qwen05b(path: str | Path, vocab: int = QWEN05B_SHAPE["vocab_size"], device: str = "cpu",
                         seed: int = 0) -> Path:
    """A random-weight model with Qwen2.5-0.5B's exact shape (896 wide, 24 layers, 14 query / 2 kv
    heads, ffn 4864, vocab 151,936 by default), saved in bf16, with a small in-process BPE tokenizer
    and the ChatML template. The tokenizer's few hundred ids are a subset of the model's vocabulary;
    the full-size embedding is kept so full fine-tuning pays for it as the real model would."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    path = Path(path)
    # The tokenizer (and a throwaway 1-layer model, overwritten below) from the shared writer.
    write_random_hf(path, hidden=16, layers=1, heads=2, kv_heads=1, ffn=16, seed=seed)
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(path)
    cfg = Qwen2Config(**{**QWEN05B_SHAPE, "vocab_size": max(vocab, len(tok))},
                      eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id, bos_token_id=None)
    torch.manual_seed(seed)
    with torch.device(device):
        model = Qwen2ForCausalLM(cfg).to(torch.bfloat16)
    model.save_pretrained(path, safe_serialization=True)
    return path


# -- measurements (`prefchat bench basis`) -----------------------------------------------------------
def _sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def bench_backbone(model_dir: str, device: str, mode: str = "lora", dims: int = 8, train_pairs: int = 32,
                   train_tokens: int = 128, accumulate: int = 1, steps: int = 10, score_batch: int = 64,
                   score_tokens: int = 256, latency_runs: int = 50, part: str = "both", capture: str = "off",
                   fused: bool | None = None, compile_train: bool = False, bucket_tokens: int = 0,
                   mixed_lengths: bool = False) -> dict:
    """Training throughput (pairs/s: one engine step = phi of both responses of every pair, the
    Bradley-Terry loss with user vectors, backward, AdamW), scoring throughput (responses/s) and the
    median latency to score 8 responses x 256 tokens. bf16 on a GPU (autocast for training; a bf16
    model for scoring). Inputs are random token ids at full length (speed does not depend on the text),
    or with mixed_lengths of lengths spread over [train_tokens/4, train_tokens], left-padded as the
    trainer pads them. part: "train", "score" or "both". The JSON says which path ran."""
    import torch

    on_gpu = device.startswith("cuda")
    torch.manual_seed(0)
    out: dict = {"device": device, "mode": mode, "dtype": "bfloat16" if on_gpu else "float32"}
    if on_gpu:
        out["gpu"] = torch.cuda.get_device_name(torch.device(device))
    if part in ("both", "train"):
        out.update(_bench_train(model_dir, device, mode, dims, train_pairs, train_tokens, accumulate, steps,
                                fused, compile_train, bucket_tokens, mixed_lengths))
        if on_gpu:
            torch.cuda.empty_cache()  # free the training copy before loading the scorer
    if part in ("both", "score"):
        out.update(_bench_score(model_dir, device, dims, score_batch, score_tokens, latency_runs, capture))
    return out


def _random_rows(n: int, t: int, vocab: int, mixed: bool = False) -> dict:
    """n left-padded rows of random ids, t wide: all t long, or (mixed) of lengths in [t/4, t]."""
    import torch

    ids = torch.randint(0, vocab, (n, t))
    mask = torch.ones(n, t, dtype=torch.long)
    if mixed:
        lengths = torch.randint(max(t // 4, 1), t + 1, (n,))
        mask = (torch.arange(t)[None, :] >= (t - lengths)[:, None]).long()
    return {"input_ids": ids, "attention_mask": mask}


def _bench_train(model_dir, device, mode, dims, train_pairs, train_tokens, accumulate, steps, fused,
                 compile_train, bucket_tokens, mixed) -> dict:
    import torch

    on_gpu = device.startswith("cuda")
    tok, base = load_backbone(model_dir, dtype="bfloat16" if on_gpu and mode != "full" else "float32")
    vocab = min(int(base.config.vocab_size), len(tok))
    model = BackboneReward(base, dims, mode=mode, bucket_tokens=bucket_tokens).to(device).train()
    n_users = 16
    lam = torch.zeros(n_users, dims, device=device, requires_grad=True)
    fused = on_gpu if fused is None else fused  # as the trainer chooses (prefchat.reward.factorize.PReF)
    opt = torch.optim.AdamW(model.optim_groups(1e-3, 0.0) + [{"params": [lam], "weight_decay": 0.0}], lr=1e-3,
                            **({"fused": True} if fused else {}))
    micro = max(train_pairs // accumulate, 1)
    path = {"fused_adamw": fused, "compiled": bool(compile_train), "bucket_tokens": bucket_tokens,
            "mixed_lengths": mixed}
    forward = torch.compile(model) if compile_train else model
    real_tokens = [0]

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        for _ in range(accumulate):
            x = _random_rows(2 * micro, train_tokens, vocab, mixed)
            real_tokens[0] += int(x["attention_mask"].sum())
            with torch.autocast(torch.device(device).type, dtype=torch.bfloat16, enabled=on_gpu):
                phi = forward(x)
            diff = phi[:micro] - phi[micro:]
            users = torch.randint(0, n_users, (micro,), device=device)
            logits = (lam[users] * diff).sum(1)
            y = torch.randint(0, 2, (micro,), device=device).float()
            loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, y) / accumulate
            loss.backward()
        opt.step()

    try:
        for _ in range(3):
            step()  # warm-up: allocator, kernels, optimiser state (and the compile, if asked)
    except Exception as exc:  # no triton / C++ compiler, an op inductor cannot handle...
        if not compile_train:
            raise
        path.update(compiled=False, compile_error=f"{type(exc).__name__}: {first_line(exc)}")
        forward = model
        for _ in range(3):
            step()
    _sync(device)
    real_tokens[0] = 0
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    _sync(device)
    dt = time.perf_counter() - t0
    pairs = steps * micro * accumulate
    train = {"pairs_per_s": pairs / dt, "tokens_per_s": real_tokens[0] / dt,
             "pairs_per_step": micro * accumulate, "tokens_per_response": train_tokens,
             "accumulate": accumulate, "steps": steps, "seconds": dt, "path": path}
    if on_gpu:
        train["peak_mem_gb"] = torch.cuda.max_memory_allocated(torch.device(device)) / 1e9
    return {"train": train, "trainable_params": int(sum(p.numel() for p in model.parameters() if p.requires_grad))}


def _bench_score(model_dir, device, dims, score_batch, score_tokens, latency_runs, capture) -> dict:
    """Scoring with a frozen bf16 (GPU) model, as Basis.scorer() loads it: eagerly (capture "off", the
    BackboneReward forward) or through prefchat.basis.backbone_capture. Each timed call includes the
    host-to-device copy and the copy of phi back to the host, which the caller needs."""
    import torch

    on_gpu = device.startswith("cuda")
    tok, base = load_backbone(model_dir, dtype="bfloat16" if on_gpu else "float32")
    vocab = min(int(base.config.vocab_size), len(tok))
    scorer = BackboneReward(base, dims, mode="frozen", infer_batch=score_batch).to(device).eval()
    cap = CapturedScorer(scorer, int(tok.pad_token_id), capture=capture) if capture != "off" else None
    t_warm = time.perf_counter()
    if cap is not None:
        cap.warmup([(8, 256), (min(score_batch, cap.batch_buckets[-1]), score_tokens)])
    warm_s = time.perf_counter() - t_warm

    def prepare(x: dict):
        # The captured path takes token id lists, as the scorer has them after tokenising.
        return x["input_ids"].tolist() if cap is not None else x

    def run(x):
        return cap.phi(x) if cap is not None else scorer(x).cpu()

    out: dict = {}
    with torch.inference_mode():
        x = prepare(_random_rows(score_batch, score_tokens, vocab))
        for _ in range(3):
            run(x)
        _sync(device)
        reps = 5 if on_gpu else 2
        t0 = time.perf_counter()
        for _ in range(reps):
            run(x)
        _sync(device)
        out["score"] = {"responses_per_s": reps * score_batch / (time.perf_counter() - t0),
                        "batch": score_batch, "tokens_per_response": score_tokens,
                        "capture": capture, "warmup_s": warm_s}
        x8 = prepare(_random_rows(8, 256, vocab))
        for _ in range(3):
            run(x8)
        times = []
        for _ in range(latency_runs if on_gpu else max(3, latency_runs // 10)):
            _sync(device)
            t0 = time.perf_counter()
            run(x8)
            times.append(time.perf_counter() - t0)
        out["latency_8x256_ms"] = {"median": statistics.median(times) * 1e3, "min": min(times) * 1e3,
                                   "runs": len(times)}
    # Read after every timed call, so that a fallback during the runs shows.
    out["score"]["path"] = cap.path if cap is not None else "eager"
    out["score"]["capture_note"] = cap.reason if cap is not None else ""
    return out
