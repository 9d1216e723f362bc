"""Hugging Face transformers backend: a causal LM from a local directory or a hub id.

The N candidates are the N rows of ONE batched decode (llm/hf_decode.py: a static KV cache, sampling
on the device, one host round trip per chunk of steps): the prompt is repeated N times (identical
rows need no padding), so each decode step runs one forward pass for all N. With per-candidate
instructions the rows are distinct prompts, left-padded to one length (`_encode`). One generator,
seeded by the request, draws for the whole batch, so candidates differ because they are different
rows of the same random stream: a request's seed makes the whole set reproducible, but candidate i
is not the same text as an N=1 run with seed+i (unlike the llama.cpp backend).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path
from typing import Optional

from prefchat.llm.base import (
    Backend,
    BackendError,
    Cancelled,
    Candidate,
    DeltaCallback,
    GenerationRequest,
    ModelLoadError,
    ModelNotFound,
    OutOfMemory,
    ProgressCallback,
)

log = logging.getLogger(__name__)


def _looks_like_path(model: str) -> bool:
    """Hub ids are "org/name"; anything absolute, relative-dotted or home-based is a path."""
    return model.startswith(("/", ".", "~")) or model.count("/") > 1


def _fallback_prompt(messages: list[dict]) -> str:
    return "\n\n".join(f"{m['role'].capitalize()}: {m['content']}" for m in messages) \
        + "\n\nAssistant:"


class _TextStream:
    """Turns each row's tokens into text as they arrive (after every chunk of decode steps) and
    reports the new characters. Each row is decoded whole, so a character split across tokens
    appears once it is complete."""

    def __init__(self, tokenizer, n: int, on_delta: DeltaCallback) -> None:
        self.tok = tokenizer
        self.on_delta = on_delta
        self.text = [""] * n

    def update(self, rows, changed: list[int]) -> None:
        for j in changed:
            text = self.tok.decode(rows.tokens[j], skip_special_tokens=True)
            # A trailing U+FFFD means the last token ended mid-character: wait for the rest.
            if text.endswith("\ufffd") or len(text) <= len(self.text[j]):
                continue
            delta, self.text[j] = text[len(self.text[j]):], text
            self.on_delta(j, delta)

    def end(self, rows) -> None:
        for j in range(len(self.text)):
            text = self.tok.decode(rows.tokens[j], skip_special_tokens=True)
            if len(text) > len(self.text[j]) and text.startswith(self.text[j]):
                self.on_delta(j, text[len(self.text[j]):])
            self.text[j] = text


class HFBackend(Backend):
    """A transformers causal LM. model: local directory or hub id. device: "auto" (cuda with bf16
    when available, else cpu with fp32), "cpu" or "cuda". offline: never contact the hub (default:
    the HF_HUB_OFFLINE environment variable). compile_steps: capture the decode step with
    torch.compile(mode="reduce-overhead") (CUDA graphs) on a GPU; off by default until measured."""

    name = "transformers"

    def __init__(self, model: str, *, device: str = "auto", offline: Optional[bool] = None,
                 n_threads: Optional[int] = None, compile_steps: bool = False) -> None:
        super().__init__()
        self.model_id = str(model)
        self.device = device
        self.offline = offline if offline is not None else os.environ.get("HF_HUB_OFFLINE") == "1"
        self.n_threads = n_threads
        self.compile_steps = bool(compile_steps)
        self._model = None
        self._tok = None
        self._gen_lock = threading.Lock()

    def describe(self) -> str:
        return f"transformers {self.model_id} ({self.device})"

    def _load(self, progress: ProgressCallback) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        path = Path(os.path.expanduser(self.model_id))
        local = path.is_dir()
        if not local:
            if path.exists():
                raise ModelNotFound(f"{path} is a file; give the model's directory or a hub id")
            if _looks_like_path(self.model_id):
                raise ModelNotFound(f"model directory not found: {path}")
        if self.device == "auto":
            self.device = "cuda" if torch.cuda.is_available() else "cpu"
        dtype = torch.bfloat16 if self.device.startswith("cuda") else torch.float32
        if self.n_threads:
            torch.set_num_threads(self.n_threads)
        if local and not (path / "config.json").is_file():
            raise ModelLoadError(f"{path} has no config.json: not a transformers model directory")
        src = str(path) if local else self.model_id
        progress(f"loading {src}")
        # tqdm bars on stderr would paint over a Textual screen; progress goes through `progress`.
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        try:
            self._tok = AutoTokenizer.from_pretrained(src, local_files_only=self.offline or local)
            model = AutoModelForCausalLM.from_pretrained(src, dtype=dtype,
                                                         local_files_only=self.offline or local)
            self._model = model.to(self.device).eval()
        except torch.cuda.OutOfMemoryError as exc:
            raise OutOfMemory(f"GPU out of memory loading {src}; use device=cpu or a smaller "
                              f"model") from exc
        except OSError as exc:
            if local:
                raise ModelLoadError(f"could not load {src}: not a transformers model directory "
                                     f"({str(exc).splitlines()[0]})") from exc
            how = "offline mode is on" if self.offline else "the hub could not be reached"
            raise ModelNotFound(f"'{src}' is not a local directory and {how}; download it first "
                                f"(huggingface-cli download {src}) or give a path") from exc
        except Exception as exc:  # corrupt safetensors, unknown architecture, ...
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ModelLoadError(f"could not load {src}: {first}") from exc
        progress(f"loaded {src}")

    def close(self) -> None:
        with self._gen_lock:
            self._model = None
            self._tok = None
            self._loaded = False

    def format_prompt(self, messages: list[dict]) -> str:
        if getattr(self._tok, "chat_template", None):
            return self._tok.apply_chat_template(messages, add_generation_prompt=True,
                                                 tokenize=False)
        return _fallback_prompt(messages)

    def _eos_ids(self) -> set[int]:
        ids = self._model.generation_config.eos_token_id
        ids = set(ids if isinstance(ids, (list, tuple)) else [ids] if ids is not None else [])
        if self._tok.eos_token_id is not None:
            ids.add(self._tok.eos_token_id)
        return ids

    def _encode(self, request: GenerationRequest, pad: int):
        """(input_ids, attention_mask) with one row per candidate. Same prompt: one row repeated.
        Per-candidate instructions: each distinct chat is encoded once and the rows are LEFT-padded
        to one length, so every row's last position is its own prompt's last token and generation
        continues right after it (the mask hides the padding; positions are counted from it)."""
        import torch

        texts: dict[Optional[str], list[int]] = {}
        for i in range(request.n):
            key = request.instruction(i)
            if key not in texts:
                texts[key] = self._tok(self.format_prompt(request.messages_for(i)),
                                       add_special_tokens=False)["input_ids"]
        rows = [texts[request.instruction(i)] for i in range(request.n)]
        width = max(map(len, rows))
        ids = torch.tensor([[pad] * (width - len(r)) + r for r in rows], dtype=torch.long)
        mask = torch.tensor([[0] * (width - len(r)) + [1] * len(r) for r in rows], dtype=torch.long)
        return ids.to(self.device), mask.to(self.device)

    def _generate(self, request: GenerationRequest, on_delta: DeltaCallback,
                  cancel: threading.Event) -> list[Candidate]:
        import torch

        from prefchat.llm.hf_decode import decode

        with self._gen_lock:
            if self._model is None:
                raise BackendError("the transformers backend was closed")
            n = request.n
            seed = request.seeds()[0]
            eos = self._eos_ids()
            pad = self._tok.pad_token_id if self._tok.pad_token_id is not None else min(eos, default=0)
            ids, mask = self._encode(request, pad)
            stream = _TextStream(self._tok, n, on_delta)
            t0 = time.perf_counter()
            try:
                with torch.inference_mode():
                    rows = decode(self._model, ids, mask, max_new=request.max_tokens, eos_ids=eos,
                                  temperature=request.temperature, top_p=request.top_p,
                                  ignore_eos=request.ignore_eos, seed=seed, cancel=cancel,
                                  on_tokens=stream.update,
                                  compile_step=self.compile_steps and self.device.startswith("cuda"))
            except torch.cuda.OutOfMemoryError as exc:
                torch.cuda.empty_cache()
                raise OutOfMemory(f"GPU out of memory generating {n} candidates; lower N or "
                                  f"max_tokens") from exc
            stream.end(rows)
            now = time.perf_counter() - t0
            cands = [Candidate(stream.text[j], len(rows.tokens[j]), rows.seconds[j] or now,
                               rows.finish[j] or ("cancelled" if cancel.is_set() else "length"),
                               seed) for j in range(n)]
            if cancel.is_set():
                raise Cancelled(cands)
            return cands
