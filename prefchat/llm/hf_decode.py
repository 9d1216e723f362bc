"""The transformers backend's decode loop: N rows in lockstep over a static KV cache, sampled on the
device, with the host touching the GPU only once per chunk of steps.

Why not `model.generate`: it synchronises with the host on every step (its stopping check reads a
device flag, the streamer calls `.tolist()`, a stopping criterion allocates a tensor), so on a GPU a
small model's step is bounded by host round trips rather than by the forward pass. Here every step
is device work only: the forward over a cache whose shapes never change (a `StaticCache` of
prompt + max_new positions and a full-width attention mask), sampling, and the end-of-turn flags.
Every `chunk` steps the host copies the new tokens once, streams their text, and checks for the end
of every row and for a cancel. The fixed shapes are also what lets `torch.compile(mode=
"reduce-overhead")` capture the step as a CUDA graph (`compile_step`, opt-in).

Pure torch/transformers; imported only by llm/hf.py when a generation starts.
"""

from __future__ import annotations

import inspect
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Optional

import torch

# Host work per chunk of decode steps. On a GPU a chunk hides the round trip; on a CPU the step
# itself is the cost, and one step per chunk keeps streaming and cancel as prompt as before.
GPU_CHUNK = 8
CPU_CHUNK = 1


@dataclass
class Rows:
    """What the host has seen of each row: its tokens until its end of turn, and when it ended."""

    n: int
    tokens: list[list[int]] = field(init=False)
    finish: list[Optional[str]] = field(init=False)
    seconds: list[float] = field(init=False)

    def __post_init__(self) -> None:
        self.tokens = [[] for _ in range(self.n)]
        self.finish = [None] * self.n
        self.seconds = [0.0] * self.n


def sample(logits: torch.Tensor, temperature: float, top_p: float,
           gen: Optional[torch.Generator]) -> torch.Tensor:
    """One token per row, on the device: greedy at temperature 0, else nucleus sampling."""
    if temperature <= 0:
        return logits.argmax(dim=-1)
    probs = torch.softmax(logits.float() / temperature, dim=-1)
    if 0 < top_p < 1:
        sorted_p, order = probs.sort(dim=-1, descending=True)
        # Keep the smallest prefix whose mass reaches top_p (the first token always stays).
        drop = sorted_p.cumsum(dim=-1) - sorted_p >= top_p
        sorted_p = sorted_p.masked_fill(drop, 0.0)
        pick = torch.multinomial(sorted_p, 1, generator=gen)
        return order.gather(-1, pick).squeeze(-1)
    return torch.multinomial(probs, 1, generator=gen).squeeze(-1)


def decode(model, ids: torch.Tensor, mask: torch.Tensor, *, max_new: int, eos_ids: set[int],
           temperature: float, top_p: float, ignore_eos: bool, seed: int, cancel: threading.Event,
           on_tokens: Callable[[Rows, list[int]], None], chunk: Optional[int] = None,
           compile_step: bool = False) -> Rows:
    """Decode up to max_new tokens for every row of ids (left-padded; mask marks real tokens).

    on_tokens(rows, changed) runs on the host after each chunk with the rows whose tokens grew.
    Returns the rows as the host saw them; a cancel ends the loop at the next chunk boundary."""
    from transformers import StaticCache

    n, width = ids.shape
    dev = ids.device
    chunk = chunk or (GPU_CHUNK if dev.type == "cuda" else CPU_CHUNK)
    total = width + max_new
    cache = StaticCache(config=model.config, max_cache_len=total)
    full_mask = torch.zeros((n, total), dtype=mask.dtype, device=dev)
    full_mask[:, :width] = mask
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    gen = torch.Generator(device=dev)
    gen.manual_seed(seed)
    out = torch.empty((n, max_new), dtype=torch.long, device=dev)

    cache_kw = _cache_keyword(model)

    def forward(tokens, pos, cache_pos):
        return model(input_ids=tokens, attention_mask=full_mask, position_ids=pos, cache_position=cache_pos,
                     use_cache=True, logits_to_keep=1, **{cache_kw: cache}).logits[:, -1]

    step = torch.compile(forward, mode="reduce-overhead", dynamic=False) if compile_step else forward
    rows = Rows(n)
    t0 = time.perf_counter()
    logits = forward(ids, positions, torch.arange(width, device=dev))  # the prefill runs eagerly
    # Positions live on the device and advance there: a fresh tensor per step would be a host-to-
    # device copy, which waits for the queued work on a GPU.
    next_pos = positions[:, -1:] + 1
    cache_pos = torch.full((1,), width, dtype=torch.long, device=dev)
    seen = 0
    for t in range(max_new):
        # A row past its end of turn keeps decoding until the chunk's host check: cheaper than a
        # device flag per step, and the host discards those tokens.
        tok = sample(logits, temperature, top_p, gen)
        out[:, t] = tok
        last = t + 1 == max_new
        if (t + 1) % chunk == 0 or last:
            seen = _host_chunk(rows, out[:, seen:t + 1].tolist(), seen, eos_ids, ignore_eos,
                               time.perf_counter() - t0, on_tokens)
            if cancel.is_set() or all(rows.finish):
                break
        if last:
            break
        full_mask[:, width + t] = 1
        logits = step(tok[:, None], next_pos, cache_pos)
        next_pos += 1
        cache_pos += 1
    return rows


def _cache_keyword(model) -> str:
    """transformers renamed `past_key_values` to `cache` (5.2x warns about the old name; older 5.x
    releases know only the old one)."""
    return "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"


def _host_chunk(rows: Rows, block: list[list[int]], seen: int, eos_ids: set[int], ignore_eos: bool,
                now: float, on_tokens: Callable[[Rows, list[int]], None]) -> int:
    changed = []
    for j, new in enumerate(block):
        if rows.finish[j]:
            continue
        for tok in new:
            if tok in eos_ids and not ignore_eos:
                rows.finish[j], rows.seconds[j] = "stop", now
                break
            rows.tokens[j].append(tok)
        changed.append(j)
    on_tokens(rows, changed)
    return seen + (len(block[0]) if block else 0)
