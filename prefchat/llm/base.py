"""The one interface every LLM backend implements, and the errors they raise.

A backend turns a chat (list of {role, content}) into N candidate replies for the reranker. Rules
every implementation follows:

- `load()` does the slow part (reading weights, checking a server) and may be called once up front
  so the first `generate` is not the one that pays for it; `generate` calls it if needed.
- `generate()` returns exactly `request.n` candidates, in index order, or raises.
- `on_delta(i, text)` streams text as it is produced. It may be called from a worker thread that
  the backend owns (the OpenAI backend runs concurrent requests); calls are never concurrent with
  each other, but UI code must still hop to its own thread (Textual: call_from_thread).
- Setting `cancel` stops generation promptly (within about one decode step or one network read)
  and raises `Cancelled`, which carries the partial candidates.
- Failures raise a `BackendError` subclass whose message is one line meant for the user.

Nothing here imports torch, transformers, llama_cpp or openai: `import prefchat.llm` stays cheap.
"""

from __future__ import annotations

import codecs
import random
import threading
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Callable, Optional

from prefchat.errors import PrefchatError

Message = dict  # {"role": "system"|"user"|"assistant", "content": str}
DeltaCallback = Callable[[int, str], None]
ProgressCallback = Callable[[str], None]

_ROLES = ("system", "user", "assistant")


@dataclass
class Candidate:
    """One generated reply. `seconds` is wall time from the start of the request to this candidate's
    last token (batched candidates share the prompt's cost). finish_reason: "stop" (end-of-turn
    token or stop string), "length" (max_tokens or context full), or "cancelled"."""

    text: str
    n_tokens: int
    seconds: float
    finish_reason: str
    seed: Optional[int] = None


@dataclass
class GenerationRequest:
    """What to generate. Candidate i is sampled with seed `seed + i` where the backend can seed per
    candidate, so the same request gives the same candidates and distinct i give distinct ones.
    `seed=None` picks a fresh random seed per call. `temperature <= 0` means greedy.

    `ignore_eos` keeps decoding to max_tokens; it exists for benchmarks, where replies of random
    length would make N=1 and N=4 incomparable.

    `instructions` (optional, length n): a per-candidate instruction, or None for "no instruction".
    It is appended LAST, as a short final system turn after the shared conversation
    (`messages_for(i)`), so every candidate's prompt starts with the same tokens: llama.cpp decodes
    that shared prefix once and only the short suffixes differ per sequence.
    """

    messages: list[Message]
    n: int = 1
    max_tokens: int = 256
    temperature: float = 0.8
    top_p: float = 0.95
    seed: Optional[int] = None
    ignore_eos: bool = False
    instructions: Optional[list] = None

    def __post_init__(self) -> None:
        if not self.messages:
            raise ValueError("messages must not be empty")
        for m in self.messages:
            if not isinstance(m, dict) or m.get("role") not in _ROLES or not isinstance(
                    m.get("content"), str):
                raise ValueError(f"each message needs role in {_ROLES} and a string content: {m!r}")
        if not 1 <= self.n <= 64:
            raise ValueError("n must be between 1 and 64")
        if self.max_tokens < 1:
            raise ValueError("max_tokens must be at least 1")
        if not 0 < self.top_p <= 1:
            raise ValueError("top_p must be in (0, 1]")
        if self.instructions is not None:
            instr = list(self.instructions)
            if len(instr) != self.n or not all(i is None or isinstance(i, str) for i in instr):
                raise ValueError(f"instructions must be a list of n={self.n} strings or None")
            # a blank instruction is no instruction (an empty system turn would still cost tokens)
            self.instructions = [i if i is not None and i.strip() else None for i in instr]

    def instruction(self, i: int) -> Optional[str]:
        return self.instructions[i] if self.instructions else None

    def messages_for(self, i: int) -> list[Message]:
        """Candidate i's chat: the shared conversation, then its instruction as the final turn."""
        instr = self.instruction(i)
        if instr is None:
            return self.messages
        return self.messages + [{"role": "system", "content": instr}]

    @property
    def same_prompt(self) -> bool:
        """True when every candidate sees the same chat (no instructions, or all identical)."""
        return not self.instructions or len(set(self.instructions)) == 1

    def prompt_groups(self) -> list[list[int]]:
        """Candidate indices grouped by identical chat, in first-seen order."""
        groups: dict[Optional[str], list[int]] = {}
        for i in range(self.n):
            groups.setdefault(self.instruction(i), []).append(i)
        return list(groups.values())

    def seeds(self) -> list[int]:
        """Per-candidate seeds: seed, seed+1, ... (32-bit, as llama.cpp and servers expect)."""
        base = self.seed if self.seed is not None else random.SystemRandom().randrange(2**31)
        return [(base + i) % (2**32 - 1) for i in range(self.n)]


# --- errors ---------------------------------------------------------------------------------------

class BackendError(PrefchatError):
    """A backend failure. The message is a single line for the user (newlines are folded)."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()))


class ModelNotFound(BackendError):
    """The model file/directory does not exist, or a hub id cannot be fetched."""


class ModelLoadError(BackendError):
    """The file exists but is not a loadable model (corrupt or truncated GGUF, wrong format)."""


class BackendConnectionError(BackendError):
    """Could not reach the server (refused, DNS, TLS)."""


class AuthenticationFailed(BackendError):
    """HTTP 401/403."""


class RateLimited(BackendError):
    """HTTP 429."""


class ServerError(BackendError):
    """HTTP 5xx or another unexpected status."""


class BackendTimeout(BackendError):
    """No answer (or no next token) within the configured timeout."""


class StreamInterrupted(BackendError):
    """The connection dropped in the middle of a streamed reply."""


class OutOfMemory(BackendError):
    """GPU (or host) memory ran out loading or running the model."""


class Cancelled(PrefchatError):
    """Generation was cancelled by the caller. Not a BackendError: `except BackendError` for showing
    failures must not swallow a user's own cancel. `partial` holds what was generated so far."""

    def __init__(self, partial: Optional[list[Candidate]] = None) -> None:
        super().__init__("generation cancelled")
        self.partial = partial or []


# --- interface ------------------------------------------------------------------------------------

class Backend(ABC):
    """Base class. Subclasses set `name` and implement `_load` and `_generate`."""

    name = "backend"
    #: True when N candidates are produced by one batched computation rather than N separate runs.
    batched = True

    def __init__(self) -> None:
        self._loaded = False
        self._load_lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        return self._loaded

    def load(self, progress: Optional[ProgressCallback] = None) -> None:
        """Load weights / check the endpoint. Idempotent and thread-safe."""
        with self._load_lock:
            if not self._loaded:
                self._load(progress or (lambda _msg: None))
                self._loaded = True

    def generate(self, request: GenerationRequest, on_delta: Optional[DeltaCallback] = None,
                 cancel: Optional[threading.Event] = None) -> list[Candidate]:
        """Generate request.n candidates. See the module docstring for the contract."""
        self.load()
        cancel = cancel or threading.Event()
        if cancel.is_set():
            raise Cancelled()
        out = self._generate(request, on_delta or (lambda _i, _t: None), cancel)
        if len(out) != request.n:  # a real check: `assert` vanishes under python -O
            raise BackendError(f"{self.describe()} returned {len(out)} candidates for n={request.n}")
        return out

    def close(self) -> None:
        """Release weights / connections. The backend may be loaded again afterwards."""

    def describe(self) -> str:
        """One line for the UI and `doctor`: which backend and model. Never includes secrets."""
        return self.name

    @abstractmethod
    def _load(self, progress: ProgressCallback) -> None: ...

    @abstractmethod
    def _generate(self, request: GenerationRequest, on_delta: DeltaCallback,
                  cancel: threading.Event) -> list[Candidate]: ...

    def __enter__(self) -> "Backend":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class Utf8Stream:
    """Turns a stream of byte pieces into text deltas without ever emitting half a character
    (byte-level tokens often split a multi-byte UTF-8 sequence)."""

    def __init__(self) -> None:
        self._dec = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self.text = ""

    def feed(self, piece: bytes) -> str:
        delta = self._dec.decode(piece)
        self.text += delta
        return delta

    def flush(self) -> str:
        delta = self._dec.decode(b"", final=True)
        self.text += delta
        return delta
