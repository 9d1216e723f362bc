"""llama.cpp backend (llama-cpp-python's low-level API) with true batched best-of-N.

The high-level `Llama` class has no `n`, and N separate runs cost N times one run. Here the N
candidates are N sequences of one llama.cpp context; the batch itself (shared prefix decoded once,
per-candidate instruction suffixes, lockstep decoding, sampling) lives in llama_batch.py. This module
loads the model, makes the context, and turns chats into tokens.

If the context cannot be created with several sequences (`batched` becomes False, with a warning
in the log), candidates run one after another with the same seeds.
"""

from __future__ import annotations

import ctypes
import logging
import os
import threading
import time
from collections import deque
from pathlib import Path
from typing import Optional

# Heavy, but this module is only imported lazily (make_backend), never by `import prefchat.llm`.
import llama_cpp as lc

from prefchat.llm.base import (
    Backend,
    BackendError,
    Candidate,
    DeltaCallback,
    GenerationRequest,
    ModelLoadError,
    ModelNotFound,
    OutOfMemory,
    ProgressCallback,
)
from prefchat.llm.llama_batch import run_group

log = logging.getLogger(__name__)

# --- process-wide llama.cpp setup -----------------------------------------------------------------
# llama.cpp logs to stderr by default, which would paint over a Textual screen. Route its log to
# Python logging instead, and keep the last lines so a failed load can say *why* in one line.
_recent_log: deque[str] = deque(maxlen=20)
# ggml_log_level: 1 debug, 2 info, 3 warn, 4 error, 5 "continue the previous line".
_LEVELS = {1: logging.DEBUG, 2: logging.INFO, 3: logging.WARNING, 4: logging.ERROR}
_llama_log = logging.getLogger("prefchat.llm.llama.cpp")
_last_level = [logging.DEBUG]
# Matrices llama.cpp repacked into its interleaved CPU layout during the load in progress (loads hold
# _load_lock). Only those get its weight-reusing multi-row kernel; the others (Q8_0, Q5_0 on x86)
# run multi-row products in llamafile's tinyBLAS, which decides what best-of-N costs
# (BENCHMARKS.md, "llama.cpp best-of-4 on 2 cores").
_repacked = [0]
_load_lock = threading.Lock()


@lc.llama_log_callback
def _log_callback(level: int, text: bytes, _user: ctypes.c_void_p) -> None:
    lvl = _last_level[0] if level == 5 else _LEVELS.get(level, logging.DEBUG)
    _last_level[0] = lvl
    msg = text.decode("utf-8", "replace").rstrip()
    if msg:
        if msg.startswith("repack: repack tensor"):
            _repacked[0] += 1
        _recent_log.append(msg)
        _llama_log.log(lvl, "%s", msg)


_init_lock = threading.Lock()
_initialised = False


def _init_llama() -> None:
    global _initialised
    with _init_lock:
        if not _initialised:
            lc.llama_log_set(_log_callback, ctypes.c_void_p(0))
            lc.llama_backend_init()
            _initialised = True


def _last_error() -> str:
    """The most telling recent llama.cpp error line, for one-line user messages. "error loading
    model: <reason>" names the actual problem; the lines after it only say that loading failed."""
    lines = list(_recent_log)
    for line in reversed(lines):
        if "error loading model:" in line:
            reason = line.split("error loading model:", 1)[1].strip()
            return reason.split("llama_model_loader: ", 1)[-1]
    for line in reversed(lines):
        low = line.lower()
        if any(k in low for k in ("error", "failed", "invalid", "corrupt", "out of memory")):
            return line.split(": ", 1)[-1].strip()
    return ""


def _fallback_prompt(messages: list[dict]) -> str:
    """Used only when the GGUF has no chat template (or it fails to render)."""
    parts = [f"{m['role'].capitalize()}: {m['content']}" for m in messages]
    return "\n\n".join(parts) + "\n\nAssistant:"


class LlamaCppBackend(Backend):
    """A GGUF model run in-process by llama.cpp.

    model: path to a .gguf file. n_ctx: KV cache size shared by all N sequences (prompt once +
    N * reply). max_parallel: sequences per batch (larger N runs in groups of this size).
    n_threads: CPU threads (default: all cores). n_gpu_layers: layers to offload (-1 = all).
    """

    name = "llama.cpp"

    def __init__(self, model: str, *, n_ctx: int = 4096, max_parallel: int = 8,
                 n_threads: Optional[int] = None, n_gpu_layers: int = 0,
                 chat_template: Optional[str] = None) -> None:
        super().__init__()
        self.model_path = Path(os.path.expanduser(str(model)))
        self.n_ctx = int(n_ctx)
        self.max_parallel = max(1, int(max_parallel))
        self.n_threads = n_threads or os.cpu_count() or 1
        self.n_gpu_layers = n_gpu_layers
        self.chat_template = chat_template  # overrides the GGUF's own template when given
        self._model = None
        self._ctx = None
        self._vocab = None
        self._n_seq = 1
        self.repacked = 0  # matrices repacked for llama.cpp's multi-row CPU kernel (after load)
        self._gen_lock = threading.Lock()
        self._cancel: Optional[threading.Event] = None
        # Kept on self: ctypes callbacks must outlive the context that calls them.
        self._abort_cb = lc.ggml_abort_callback(self._should_abort)

    def describe(self) -> str:
        mode = f"batched x{self._n_seq}" if self.batched else "sequential"
        return f"llama.cpp {self.model_path.name} ({mode}, {self.n_threads} threads)"

    # --- loading --------------------------------------------------------------------------------

    def _load(self, progress: ProgressCallback) -> None:
        p = self.model_path
        if not p.exists():
            raise ModelNotFound(f"model file not found: {p}")
        if p.is_dir():
            raise ModelNotFound(f"{p} is a directory; give the path of a .gguf file")
        with open(p, "rb") as fh:
            magic = fh.read(4)
        if magic != b"GGUF":
            raise ModelLoadError(f"{p} is not a GGUF file (bad header); re-download or convert it")
        _init_llama()
        progress(f"loading {p.name}")
        mparams = lc.llama_model_default_params()
        mparams.n_gpu_layers = self.n_gpu_layers
        with _load_lock:
            _recent_log.clear()
            _repacked[0] = 0
            model = lc.llama_model_load_from_file(str(p).encode(), mparams)
            self.repacked = _repacked[0]
        if not model:
            reason = _last_error()
            if "out of memory" in reason.lower() or "alloc" in reason.lower():
                raise OutOfMemory(f"out of memory loading {p.name}; try fewer --n-gpu-layers "
                                  f"({reason})")
            raise ModelLoadError(f"could not load {p.name}: corrupt or unsupported GGUF"
                                 + (f" ({reason})" if reason else ""))
        self._model = model
        self._vocab = lc.llama_model_get_vocab(model)
        train_ctx = lc.llama_model_n_ctx_train(model)
        if train_ctx > 0:
            self.n_ctx = min(self.n_ctx, train_ctx)
        try:
            self._ctx = self._make_context(self.max_parallel)
            self._n_seq = self.max_parallel
            self.batched = self.max_parallel > 1
        except BackendError:
            if self.max_parallel == 1:
                raise
            # Some models/builds refuse several sequences; one at a time still works.
            log.warning("llama.cpp refused a %d-sequence context; candidates will be generated "
                        "one after another", self.max_parallel)
            self._ctx = self._make_context(1)
            self._n_seq = 1
            self.batched = False
        progress(f"loaded {p.name}")

    def _make_context(self, n_seq: int):
        cp = lc.llama_context_default_params()
        cp.n_ctx = self.n_ctx
        cp.n_batch = min(self.n_ctx, 2048)
        cp.n_ubatch = min(self.n_ctx, 512)
        cp.n_seq_max = n_seq
        # Unified KV cache: all sequences draw cells from one pool of n_ctx, so the shared prompt is
        # stored once. (Non-unified splits n_ctx into n_seq_max fixed slices and seq_cp would copy.)
        cp.kv_unified = True
        cp.n_threads = self.n_threads
        cp.n_threads_batch = self.n_threads
        _recent_log.clear()
        ctx = lc.llama_init_from_model(self._model, cp)
        if not ctx:
            reason = _last_error()
            if "memory" in reason.lower() or "alloc" in reason.lower():
                raise OutOfMemory(f"out of memory creating a {self.n_ctx}-token context; "
                                  f"lower n_ctx ({reason})")
            raise BackendError(f"llama.cpp could not create a context ({reason or 'unknown'})")
        lc.llama_set_abort_callback(ctx, self._abort_cb, ctypes.c_void_p(0))
        return ctx

    def _should_abort(self, _data) -> bool:
        # Called by llama.cpp between graph computations, so a long prompt decode stops promptly.
        c = self._cancel
        return bool(c is not None and c.is_set())

    def close(self) -> None:
        with self._gen_lock:
            if self._ctx:
                lc.llama_free(self._ctx)
                self._ctx = None
            if self._model:
                lc.llama_model_free(self._model)
                self._model = None
            self._loaded = False

    # --- text <-> tokens ------------------------------------------------------------------------

    def _token_text(self, tok: int) -> str:
        return lc.llama_vocab_get_text(self._vocab, tok).decode("utf-8", "replace")

    def format_prompt(self, messages: list[dict]) -> str:
        """The chat rendered with the GGUF's template (or the override), else a plain fallback."""
        template = self.chat_template
        if template is None:
            raw = lc.llama_model_chat_template(self._model, None)
            template = raw.decode("utf-8", "replace") if raw else None
        if not template:
            return _fallback_prompt(messages)
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        eos = lc.llama_vocab_eos(self._vocab)
        bos = lc.llama_vocab_bos(self._vocab)
        try:
            fmt = Jinja2ChatFormatter(template=template,
                                      eos_token=self._token_text(eos) if eos >= 0 else "",
                                      bos_token=self._token_text(bos) if bos >= 0 else "",
                                      add_generation_prompt=True)
            return fmt(messages=messages).prompt
        except Exception as exc:  # a template written for other roles/tools; still chat
            log.warning("chat template failed (%s); using the plain fallback format", exc)
            return _fallback_prompt(messages)

    def tokenize(self, text: str) -> list[int]:
        data = text.encode("utf-8")
        bos = lc.llama_vocab_bos(self._vocab)
        # Templates often start with the BOS text already; adding another would double it.
        add_special = not (bos >= 0 and text.startswith(self._token_text(bos)))
        n_max = len(data) + 8
        buf = (lc.llama_token * n_max)()
        n = lc.llama_tokenize(self._vocab, data, len(data), buf, n_max, add_special, True)
        if n < 0:
            n_max = -n
            buf = (lc.llama_token * n_max)()
            n = lc.llama_tokenize(self._vocab, data, len(data), buf, n_max, add_special, True)
        return list(buf[:n])

    def _piece(self, tok: int) -> bytes:
        buf = ctypes.create_string_buffer(64)
        n = lc.llama_token_to_piece(self._vocab, tok, buf, 64, 0, False)
        if n < 0:
            buf = ctypes.create_string_buffer(-n)
            n = lc.llama_token_to_piece(self._vocab, tok, buf, -n, 0, False)
        return buf.raw[:n]

    # --- generation -----------------------------------------------------------------------------

    def _generate(self, request: GenerationRequest, on_delta: DeltaCallback,
                  cancel: threading.Event) -> list[Candidate]:
        with self._gen_lock:
            if not self._ctx:
                raise BackendError("the llama.cpp backend was closed")
            self._cancel = cancel
            try:
                # one tokenization per distinct prompt (same-prompt best-of-N has just one)
                prompts: list[list[int]] = [[]] * request.n
                for idx in request.prompt_groups():
                    toks = self.tokenize(self.format_prompt(request.messages_for(idx[0])))
                    if len(toks) >= self.n_ctx:
                        raise BackendError(f"the conversation is {len(toks)} tokens but the "
                                           f"context holds {self.n_ctx}; start a new chat or raise "
                                           f"n_ctx")
                    for i in idx:
                        prompts[i] = toks
                seeds = request.seeds()
                out: list[Candidate] = []
                t0 = time.perf_counter()
                for start in range(0, request.n, self._n_seq):
                    group = list(range(start, min(request.n, start + self._n_seq)))
                    out.extend(run_group(self._ctx, self._vocab, self._piece, _last_error,
                                         [prompts[i] for i in group], group, seeds, request,
                                         on_delta, cancel, t0, out))
                return out
            finally:
                self._cancel = None
                lc.llama_memory_clear(lc.llama_get_memory(self._ctx), True)
