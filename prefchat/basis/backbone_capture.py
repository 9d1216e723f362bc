"""Captured backbone scoring: inputs padded to a few fixed shapes, each shape's forward captured once
as a CUDA graph and replayed afterwards.

Why: on an H200, scoring 8 x 256 tokens with a 24-layer 0.5B backbone takes ~16 ms eagerly, and most
of that is the host launching several hundred small kernels one by one (measured launch-bound; see
BENCHMARKS.md). A CUDA graph replays the whole forward with one launch. A graph is tied to its input
shapes, so a call is padded up to a *bucket* (a batch size and a length from short lists): the graph
of a bucket is captured on its first use and replayed for every later call that fits it.

Two ways to capture, both with an eager fallback that the caller can read (`path`, `reason`):
  * "graph":   torch.cuda.CUDAGraph by hand around the eager forward. No compiler involved, so the
               capture takes about a second per bucket; needs a transformers release whose masking
               code makes no host syncs while a stream is capturing (5.x checks for it).
  * "compile": torch.compile(mode="reduce-overhead", dynamic=False): inductor fuses the elementwise
               work as well, then records CUDA graphs. The first call of a bucket compiles (tens of
               seconds), so the app should warm up the buckets it uses at start-up.
On a CPU "graph" has nothing to capture (eager); "compile" runs inductor's CPU code (the tests use it).

Padding never reaches the scores. Extra columns are left padding with attention mask 0: position ids
come from the mask (prefchat.reward.nets.BackboneReward.hidden), so real tokens keep positions 0..n-1,
and no real token attends a pad column. Extra rows copy the first real row and are dropped.
tests/backbone/test_capture.py checks both against scoring each response on its own.
"""

from __future__ import annotations

import math

import numpy as np

from prefchat.errors import first_line

# Batch sizes and lengths a call is padded up to. On a GPU a launch-bound forward costs about the same
# at 5 or 8 rows and at 200 or 256 tokens, so a few coarse buckets lose little and keep captures few.
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32)
LENGTH_BUCKETS = (32, 64, 128, 256, 512, 1024, 2048)
CAPTURES = ("graph", "compile", "off")


def bucket(n: int, buckets: tuple[int, ...]) -> int:
    """The smallest bucket >= n; past the last one, n rounded up to a multiple of the last one."""
    for b in buckets:
        if n <= b:
            return b
    return int(math.ceil(n / buckets[-1]) * buckets[-1])


def pad_rows(seqs: list[list[int]], rows: int, width: int, pad_id: int):
    """(input_ids, attention_mask), both (rows, width) int64: each sequence left-padded to width
    (keeping its last `width` tokens), then rows beyond len(seqs) filled with copies of the first."""
    import torch

    ids = torch.full((rows, width), pad_id, dtype=torch.long)
    mask = torch.zeros((rows, width), dtype=torch.long)
    for i, s in enumerate(seqs):
        s = s[-width:]
        if s:
            ids[i, width - len(s):] = torch.tensor(s, dtype=torch.long)
            mask[i, width - len(s):] = 1
    if len(seqs) < rows:
        ids[len(seqs):] = ids[0]
        mask[len(seqs):] = mask[0]
    return ids, mask


class CapturedScorer:
    """phi for lists of token ids through a BackboneReward (eval mode, on its device), bucketed and
    captured as `capture` says. `path` is what actually runs ("graph", "compile" or "eager"), and
    `reason` says why when it is not what was asked for."""

    def __init__(self, model, pad_id: int, capture: str = "graph",
                 batch_buckets: tuple[int, ...] = BATCH_BUCKETS,
                 length_buckets: tuple[int, ...] = LENGTH_BUCKETS) -> None:
        import torch

        if capture not in CAPTURES:
            raise ValueError(f"capture must be one of {', '.join(CAPTURES)}, not {capture!r}")
        self.model = model
        self.pad_id = int(pad_id)
        self.device = model.head.weight.device
        self.batch_buckets = tuple(batch_buckets)
        self.length_buckets = tuple(length_buckets)
        self.capture = capture
        self.path = "eager"
        self.reason = ""
        self._graphs: dict[tuple[int, int], tuple] = {}  # bucket -> (graph, ids, mask, out)
        self._compiled = None
        if capture == "graph":
            if self.device.type == "cuda":
                self.path = "graph"
            else:
                self.reason = "CUDA graphs need a CUDA device"
        elif capture == "compile":
            if not hasattr(torch, "compile"):
                self.reason = "this torch has no torch.compile"
            else:
                # One compiled graph per bucket shape: let dynamo keep them all instead of falling back
                # to eager after its default recompile limit (8).
                cfg = torch._dynamo.config
                name = "recompile_limit" if hasattr(cfg, "recompile_limit") else "cache_size_limit"
                setattr(cfg, name, max(getattr(cfg, name), 4 * len(self.batch_buckets) * len(self.length_buckets)))
                self._compiled = torch.compile(self._eager, mode="reduce-overhead", dynamic=False)
                self.path = "compile"

    # -- the forward --------------------------------------------------------------------------------
    def _eager(self, ids, mask):
        return self.model.head(self.model.hidden({"input_ids": ids, "attention_mask": mask}).float())

    def _fallback(self, exc: Exception) -> None:
        self.reason = f"{self.path} failed, eager instead: {type(exc).__name__}: {first_line(exc)}"
        self.path = "eager"
        self._graphs.clear()
        self._compiled = None

    def _graph_run(self, ids, mask):
        """Replay the bucket's graph (captured on first use) on these inputs; a copy of its output."""
        import torch

        key = tuple(ids.shape)
        if key not in self._graphs:
            s_ids = ids.clone()
            s_mask = mask.clone()
            side = torch.cuda.Stream(device=self.device)
            side.wait_stream(torch.cuda.current_stream(self.device))
            with torch.cuda.stream(side):  # warm-up off the capture: cuBLAS handles, allocator pools
                for _ in range(2):
                    self._eager(s_ids, s_mask)
            torch.cuda.current_stream(self.device).wait_stream(side)
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph):
                out = self._eager(s_ids, s_mask)
            self._graphs[key] = (graph, s_ids, s_mask, out)
        graph, s_ids, s_mask, out = self._graphs[key]
        s_ids.copy_(ids, non_blocking=True)
        s_mask.copy_(mask, non_blocking=True)
        graph.replay()
        return out.clone()  # the next replay overwrites `out`

    def _run(self, ids, mask):
        import torch

        if self.path == "graph":
            try:
                return self._graph_run(ids, mask)
            except Exception as exc:  # a host sync inside the model during capture, driver limits...
                self._fallback(exc)
        elif self.path == "compile":
            try:
                mark = getattr(torch.compiler, "cudagraph_mark_step_begin", None)
                if mark is not None and self.device.type == "cuda":
                    mark()  # the previous call's outputs were copied out; their memory may be reused
                return self._compiled(ids, mask).clone()
            except Exception as exc:  # no triton / C++ compiler, an unsupported op...
                self._fallback(exc)
        return self._eager(ids, mask)

    # -- use ----------------------------------------------------------------------------------------
    def shape_for(self, n_rows: int, longest: int) -> tuple[int, int]:
        return bucket(n_rows, self.batch_buckets), bucket(max(longest, 1), self.length_buckets)

    def phi(self, seqs: list[list[int]]) -> np.ndarray:
        """(len(seqs), J) float64: rows sorted by length into chunks of at most the largest batch
        bucket, so that short responses are not padded to the longest of the call."""
        import torch

        n = len(seqs)
        if n == 0:
            return np.zeros((0, int(self.model.head.out_features)))
        order = sorted(range(n), key=lambda i: len(seqs[i]))
        out = np.empty((n, int(self.model.head.out_features)))
        step = self.batch_buckets[-1]
        with torch.inference_mode():
            for s in range(0, n, step):
                idx = order[s:s + step]
                part = [seqs[i] for i in idx]
                rows, width = self.shape_for(len(part), max(len(x) for x in part))
                ids, mask = pad_rows(part, rows, width, self.pad_id)
                if self.device.type == "cuda":
                    ids, mask = ids.pin_memory(), mask.pin_memory()
                phi = self._run(ids.to(self.device, non_blocking=True), mask.to(self.device, non_blocking=True))
                out[idx] = phi[: len(part)].double().cpu().numpy()
        return out

    def warmup(self, shapes: list[tuple[int, int]], times: int = 3) -> None:
        """Capture (or compile) the buckets of these (rows, tokens) shapes now, e.g. during start-up,
        so that no later call pays for it. reduce-overhead records its graph on the third call."""
        import torch

        for rows, tokens in shapes:
            r, w = self.shape_for(rows, tokens)
            ids = torch.full((r, w), self.pad_id, dtype=torch.long)
            mask = torch.ones((r, w), dtype=torch.long)
            with torch.inference_mode():
                for _ in range(times):
                    self._run(ids.to(self.device), mask.to(self.device))
