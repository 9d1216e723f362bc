"""`prefchat bench basis --backbone`: the random-weight Qwen2.5-0.5B-shaped subject and the
training/scoring throughput measurements of a causal-LM basis."""

from __future__ import annotations

import statistics
import time
from pathlib import Path

from prefchat.bench.synthetic import write_random_hf
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
                   score_tokens: int = 256, latency_runs: int = 50) -> dict:
    """Training throughput (pairs/s: one engine step = phi of both responses of every pair, the
    Bradley-Terry loss with user vectors, backward, AdamW), scoring throughput (responses/s) and the
    median latency to score 8 responses x 256 tokens. bf16 on a GPU (autocast for training; a bf16
    model for scoring). Inputs are random token ids at full length: speed does not depend on the text."""
    import torch

    on_gpu = device.startswith("cuda")
    torch.manual_seed(0)
    out: dict = {"device": device, "mode": mode, "dtype": "bfloat16" if on_gpu else "float32"}
    if on_gpu:
        out["gpu"] = torch.cuda.get_device_name(torch.device(device))

    def batch(n: int, t: int, vocab: int) -> dict:
        return {"input_ids": torch.randint(0, vocab, (n, t)), "attention_mask": torch.ones(n, t, dtype=torch.long)}

    # Training.
    tok, base = load_backbone(model_dir, dtype="bfloat16" if on_gpu and mode != "full" else "float32")
    vocab = min(int(base.config.vocab_size), len(tok))
    model = BackboneReward(base, dims, mode=mode).to(device).train()
    n_users = 16
    lam = torch.zeros(n_users, dims, device=device, requires_grad=True)
    opt = torch.optim.AdamW(model.optim_groups(1e-3, 0.0) + [{"params": [lam], "weight_decay": 0.0}], lr=1e-3)
    out["trainable_params"] = int(sum(p.numel() for p in model.parameters() if p.requires_grad))
    micro = max(train_pairs // accumulate, 1)

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        for _ in range(accumulate):
            x = batch(2 * micro, train_tokens, vocab)
            with torch.autocast(torch.device(device).type, dtype=torch.bfloat16, enabled=on_gpu):
                phi = model(x)
            diff = phi[:micro] - phi[micro:]
            users = torch.randint(0, n_users, (micro,), device=device)
            logits = (lam[users] * diff).sum(1)
            y = torch.randint(0, 2, (micro,), device=device).float()
            loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, y) / accumulate
            loss.backward()
        opt.step()

    for _ in range(3):
        step()  # warm-up: allocator, kernels, optimiser state
    _sync(device)
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    _sync(device)
    dt = time.perf_counter() - t0
    pairs = steps * micro * accumulate
    out["train"] = {"pairs_per_s": pairs / dt, "tokens_per_s": pairs * 2 * train_tokens / dt,
                    "pairs_per_step": micro * accumulate, "tokens_per_response": train_tokens,
                    "accumulate": accumulate, "steps": steps, "seconds": dt}
    if on_gpu:
        out["train"]["peak_mem_gb"] = torch.cuda.max_memory_allocated(torch.device(device)) / 1e9
    model = base = opt = lam = None  # free the training copy before loading the scorer
    if on_gpu:
        torch.cuda.empty_cache()

    # Scoring: a frozen bf16 (GPU) model, as Basis.scorer() loads it.
    tok, base = load_backbone(model_dir, dtype="bfloat16" if on_gpu else "float32")
    scorer = BackboneReward(base, dims, mode="frozen", infer_batch=score_batch).to(device).eval()
    with torch.inference_mode():
        x = batch(score_batch, score_tokens, vocab)
        for _ in range(3):
            scorer(x)
        _sync(device)
        reps = 5 if on_gpu else 2
        t0 = time.perf_counter()
        for _ in range(reps):
            scorer(x)
        _sync(device)
        out["score"] = {"responses_per_s": reps * score_batch / (time.perf_counter() - t0),
                        "batch": score_batch, "tokens_per_response": score_tokens}
        x8 = batch(8, 256, vocab)
        for _ in range(3):
            scorer(x8)
        times = []
        for _ in range(latency_runs if on_gpu else max(3, latency_runs // 10)):
            _sync(device)
            t0 = time.perf_counter()
            scorer(x8).cpu()  # the caller needs phi on the host
            times.append(time.perf_counter() - t0)
        out["latency_8x256_ms"] = {"median": statistics.median(times) * 1e3, "min": min(times) * 1e3,
                                   "runs": len(times)}
    return out
