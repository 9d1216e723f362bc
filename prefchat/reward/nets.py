"""The paper's basis network: a transformers causal LM read at the last token, plus a J-dim linear head.

    phi(x, y) = W h_last(chat_template(x, y)) + b

* `TokenizedResponses`: the engine's `inputs` object; `inputs[rows]` gives a left-padded batch dict.
  Every (prompt, response) is tokenised once, up front.
* `BackboneReward`: the torch module; modes "full" (every weight trains), "lora" (peft adapters on
  the attention and MLP projections; the base is frozen) and "frozen" (head only).

Training it is prefchat.basis.train_backbone; scoring with a saved one is prefchat.basis.backbone_scorer.
transformers and peft are imported inside functions; this module itself needs only torch and numpy.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from torch import nn

from prefchat.errors import PrefchatError, first_line
from prefchat.reward.quiet import quiet_loading

DEFAULT_BACKBONE = "Qwen/Qwen2.5-0.5B"
MODES = ("full", "lora", "frozen")
LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


def load_backbone(name: str, dtype: str = "float32"):
    """(tokenizer, transformers base model without the LM head) from a local dir or the hub.

    Any failure (offline without a local copy, a wrong id, a damaged dir) is one PrefchatError line."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    local = Path(name).expanduser()
    src = str(local) if local.exists() else name
    try:
        with quiet_loading():  # no "Loading weights" bar over the caller's output
            tok = AutoTokenizer.from_pretrained(src)
            model = AutoModel.from_pretrained(src, dtype=getattr(torch, dtype))
    except Exception as exc:  # OSError offline, ValueError for a bad config, hub errors...
        raise PrefchatError(f"cannot load backbone {name!r}: {first_line(exc, 300)} — pass a local model directory "
                            "(one with config.json), or connect to the Hugging Face hub once") from None
    tok.padding_side = "left"  # position -1 is then every row's last real token
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok, model


def format_pair(tokenizer, prompt: str, response: str) -> str:
    """The (prompt, response) exchange through the model's chat template (a plain fallback without one)."""
    msgs = [{"role": "user", "content": prompt}, {"role": "assistant", "content": response}]
    if getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template(msgs, tokenize=False)
    return f"User: {prompt}\nAssistant: {response}"


class TokenizedResponses:
    """Response rows tokenised once; `self[rows]` is a left-padded batch {input_ids, attention_mask}.

    Truncation keeps the *end* of the exchange: the last token is what the head reads."""

    def __init__(self, tokenizer, prompts: list[str], responses: list[str], max_length: int = 512) -> None:
        if len(prompts) != len(responses):
            raise ValueError("prompts and responses must have equal length")
        self.pad_id = int(tokenizer.pad_token_id)
        self.max_length = max_length
        texts = [format_pair(tokenizer, p, r) for p, r in zip(prompts, responses)]
        ids = tokenizer(texts, add_special_tokens=False)["input_ids"] if texts else []
        self.ids = [list(x[-max_length:]) for x in ids]

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, rows) -> dict:
        import torch

        rows = np.asarray(rows.cpu() if hasattr(rows, "cpu") else rows, dtype=np.int64).reshape(-1)
        seqs = [self.ids[int(r)] for r in rows]
        width = max((len(s) for s in seqs), default=1)
        ids = torch.full((len(seqs), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(seqs), width), dtype=torch.long)
        for i, s in enumerate(seqs):
            if s:
                ids[i, width - len(s):] = torch.tensor(s)
                mask[i, width - len(s):] = 1
        return {"input_ids": ids, "attention_mask": mask}


class BackboneReward(nn.Module):
    """Backbone + J-dim linear head on the last token's hidden state.

    Position ids are computed from the attention mask, so a response's phi does not depend on how
    much left padding its batch needed (transformers would otherwise count pads as positions), which
    keeps scores batch-independent and makes sharded (DDP) training match single-process training."""

    def __init__(self, base, n_components: int, mode: str = "lora", lora_r: int = 16, lora_alpha: int = 32,
                 backbone_lr: float | None = None, infer_batch: int = 32, bucket_tokens: int = 0) -> None:
        import torch

        super().__init__()
        if mode not in MODES:
            raise PrefchatError(f"training mode must be one of {', '.join(MODES)}, not {mode!r}")
        self.mode = mode
        self.lora = None
        if mode == "lora":
            try:
                from peft import LoraConfig, get_peft_model
            except ImportError:
                raise PrefchatError("LoRA training needs peft: pip install 'prefchat[train]' "
                                    "(or choose --mode full / frozen)") from None
            targets = [t for t in LORA_TARGETS if any(n.endswith(t) for n, _ in base.named_modules())]
            if not targets:
                raise PrefchatError("LoRA: the backbone has none of the usual projection layers "
                                    f"({', '.join(LORA_TARGETS)}); use --mode full")
            self.lora = {"r": lora_r, "alpha": lora_alpha, "targets": targets}
            base = get_peft_model(base, LoraConfig(r=lora_r, lora_alpha=lora_alpha, lora_dropout=0.0,
                                                   target_modules=targets, bias="none"))
        elif mode == "frozen":
            for p in base.parameters():
                p.requires_grad_(False)
        self.base = base
        hidden = int(base.config.hidden_size)
        self.head = nn.Linear(hidden, n_components)
        # A fresh head on hidden states of size ~sqrt(hidden)*(a few): start small so the initial phi
        # differences are O(1) like the SVD pair factors they are regressed on.
        nn.init.normal_(self.head.weight, std=1.0 / hidden)
        nn.init.zeros_(self.head.bias)
        default_lr = {"full": 1e-5, "lora": 2e-4, "frozen": 0.0}[mode]
        self.backbone_lr = default_lr if backbone_lr is None else backbone_lr
        self.infer_batch = infer_batch
        # Training forward in length buckets of at most this many (padded) tokens each; 0: one batch.
        self.bucket_tokens = int(bucket_tokens)
        self._torch = torch

    def optim_groups(self, lr: float, weight_decay: float) -> list[dict]:
        """The head learns at the engine's rate; a pretrained backbone at a far smaller one."""
        groups = [{"params": list(self.head.parameters()), "lr": lr, "weight_decay": weight_decay}]
        body = [p for p in self.base.parameters() if p.requires_grad]
        if body:
            groups.append({"params": body, "lr": self.backbone_lr, "weight_decay": weight_decay})
        return groups

    def hidden(self, batch: dict):
        dev = self.head.weight.device
        ids = batch["input_ids"].to(dev)
        mask = batch["attention_mask"].to(dev)
        pos = (mask.cumsum(1) - 1).clamp(min=0)
        # No KV cache: nothing is generated, and a cache is work and memory (and allocations inside a
        # captured CUDA graph) for nothing.
        out = self.base(input_ids=ids, attention_mask=mask, position_ids=pos, use_cache=False)
        return out.last_hidden_state[:, -1]

    def forward(self, batch: dict):
        torch = self._torch
        n, width = batch["input_ids"].shape
        if torch.is_grad_enabled():
            if self.bucket_tokens and n > 1 and n * width > self.bucket_tokens:
                return self._bucketed(batch)
            return self.head(self.hidden(batch).float())
        if n <= self.infer_batch:
            return self.head(self.hidden(batch).float())
        # Inference over many rows (the engine's user refit, the pool): bounded memory, and rows of
        # similar length together so that little time goes on padding.
        order = torch.argsort(batch["attention_mask"].sum(1), stable=True)
        out = None
        for s in range(0, n, self.infer_batch):
            idx = order[s:s + self.infer_batch]
            part = {k: v[idx] for k, v in batch.items()}
            keep = int(part["attention_mask"].sum(0).nonzero().min()) if part["attention_mask"].any() else 0
            part = {k: v[:, keep:] for k, v in part.items()}  # drop columns that are padding in every row
            phi = self.head(self.hidden(part).float())
            if out is None:
                out = phi.new_empty((n, phi.shape[1]))
            out[idx.to(phi.device)] = phi
        return out

    def _bucketed(self, batch: dict):
        """The training forward in length buckets: rows sorted by length, cut into runs whose padded
        size (rows x longest) stays within bucket_tokens, each run cropped to its own longest row.
        A batch of mixed lengths then pays for little padding (one batch pads every row to the
        longest). Rows do not interact in the backbone and positions come from the mask, so phi, and
        with it the loss and every gradient, are those of the one-batch forward (up to float
        summation order): tests/backbone/test_train_speed.py checks it."""
        torch = self._torch
        lengths = batch["attention_mask"].sum(1).cpu()
        order = torch.argsort(lengths, stable=True)
        runs, start = [], 0
        for i in range(1, len(order) + 1):
            # Sorted ascending: with row i added, the run's longest row would be row i.
            if i == len(order) or (i - start + 1) * int(lengths[order[i]]) > self.bucket_tokens:
                runs.append(order[start:i])
                start = i
        width = batch["input_ids"].shape[1]
        parts = []
        for idx in runs:
            keep = width - max(int(lengths[idx[-1]]), 1)  # left padding: real tokens are at the right
            parts.append(self.head(self.hidden({k: v[idx.to(v.device), keep:] for k, v in batch.items()}).float()))
        inverse = torch.empty_like(order)
        inverse[order] = torch.arange(len(order))
        return torch.cat(parts)[inverse.to(parts[0].device)]

    # -- saving ------------------------------------------------------------------------------------
    def lora_deltas(self) -> dict:
        """{module path of the base: delta W = scale * B @ A} from the peft adapters, fp32."""
        out = {}
        scale = self.lora["alpha"] / self.lora["r"]
        for name, mod in self.base.named_modules():
            if hasattr(mod, "lora_A") and "default" in getattr(mod, "lora_A", {}):
                a = mod.lora_A["default"].weight.detach().float()
                b = mod.lora_B["default"].weight.detach().float()
                path = name.split("base_model.model.", 1)[-1]
                out[path] = (b @ a * scale).contiguous().cpu()
        return out
