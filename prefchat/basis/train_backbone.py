"""The paper's basis model: a transformers causal LM read at the last token, plus a J-dim linear head.

    phi(x, y) = W h_last(chat_template(x, y)) + b

Training reuses the engine (PReF: SVD init, pair-factor regression, refitted users, regularised
Bradley-Terry MLE). What a backbone adds is here:

* `TokenizedResponses`: the engine's `inputs` object; `inputs[rows]` gives a left-padded batch dict.
  Every (prompt, response) is tokenised once, up front.
* `BackboneReward`: the torch module; modes "full" (every weight trains), "lora" (peft adapters on
  the attention and MLP projections; the base is frozen) and "frozen" (head only).
* Saving/loading a basis directory in the same format as the MiniLM one (basis.json, head.safetensors,
  pool.npz), plus the trained backbone weights: `lora.safetensors` (adapter A/B matrices, merged
  into the base at load time, so scoring does not need peft) or `backbone/` (full fine-tuning).

transformers and peft are imported inside functions; this module itself needs only torch and numpy
(like the rest of prefchat.reward), and nothing imports it until a backbone is used.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
from torch import nn

from prefchat.digest import file_sha256
from prefchat.errors import PrefchatError

DEFAULT_BACKBONE = "Qwen/Qwen2.5-0.5B"
MODES = ("full", "lora", "frozen")
LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
# The real Qwen2.5-0.5B dimensions, for the random-weight benchmark subject.
QWEN05B_SHAPE = dict(hidden_size=896, num_hidden_layers=24, num_attention_heads=14, num_key_value_heads=2,
                     intermediate_size=4864, vocab_size=151936, max_position_embeddings=32768,
                     rope_theta=1000000.0, rms_norm_eps=1e-6, tie_word_embeddings=True)

Progress = Callable[[str, int, int], None]


def load_backbone(name: str, dtype: str = "float32"):
    """(tokenizer, transformers base model without the LM head) from a local dir or the hub.

    Any failure (offline without a local copy, a wrong id, a damaged dir) is one PrefchatError line."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    local = Path(name).expanduser()
    src = str(local) if local.exists() else name
    try:
        tok = AutoTokenizer.from_pretrained(src)
        model = AutoModel.from_pretrained(src, dtype=getattr(torch, dtype))
    except Exception as exc:  # OSError offline, ValueError for a bad config, hub errors...
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise PrefchatError(f"cannot load backbone {name!r}: {first[:300]} — pass a local model directory "
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
                 backbone_lr: float | None = None, infer_batch: int = 32) -> None:
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
        out = self.base(input_ids=ids, attention_mask=mask, position_ids=pos)
        return out.last_hidden_state[:, -1]

    def forward(self, batch: dict):
        torch = self._torch
        n = batch["input_ids"].shape[0]
        if torch.is_grad_enabled() or n <= self.infer_batch:
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


def base_identity(name: str) -> dict:
    """The backbone as basis.json names it: a hub id, or an absolute local path with its weights' hash."""
    local = Path(name).expanduser()
    if local.exists():
        files = sorted(local.glob("*.safetensors"))
        return {"id": str(local.resolve()),
                "base_sha256": hashlib.sha256("".join(file_sha256(f) for f in files).encode()).hexdigest()}
    return {"id": name, "base_sha256": None}


def save_trained(model: BackboneReward, tokenizer, out: Path, identity: dict) -> tuple[bytes, dict]:
    """Write head.safetensors and the trained backbone weights; return the head bytes and identity
    (with the weights' sha256, which the fingerprint then covers)."""
    from safetensors.torch import save_file

    out.mkdir(parents=True, exist_ok=True)
    head = {f"linear.{k}": v.detach().float().cpu().contiguous() for k, v in model.head.state_dict().items()}
    save_file(head, str(out / "head.safetensors"))
    ident = dict(identity)
    ident["mode"] = model.mode
    if model.mode == "lora":
        deltas = model.lora_deltas()
        save_file(deltas, str(out / "lora.safetensors"))
        ident["weights"] = "lora.safetensors"
        ident["weights_sha256"] = file_sha256(out / "lora.safetensors")
        ident["lora"] = model.lora
    elif model.mode == "full":
        folder = out / "backbone"
        model.base.save_pretrained(folder, safe_serialization=True)
        tokenizer.save_pretrained(folder)
        ident["weights"] = "backbone/"
        ident["weights_sha256"] = hashlib.sha256("".join(
            file_sha256(f) for f in sorted(folder.glob("*.safetensors"))).encode()).hexdigest()
    return (out / "head.safetensors").read_bytes(), ident


class BackboneScorer:
    """phi(x, y) with a trained causal-LM basis; the same interface as basis_model.Scorer."""

    def __init__(self, tokenizer, model: BackboneReward, device: str, max_length: int) -> None:
        self.tokenizer = tokenizer
        self.model = model.to(device).eval()
        self.device = device
        self.max_length = max_length

    def phi(self, responses: list[str], prompts: list[str] | None = None) -> np.ndarray:
        import torch

        prompts = list(prompts) if prompts is not None else [""] * len(responses)
        inputs = TokenizedResponses(self.tokenizer, prompts, list(responses), self.max_length)
        with torch.inference_mode():
            return self.model(inputs[np.arange(len(inputs))]).double().cpu().numpy()

    def pair_diffs(self, prompts: list[str], a: list[str], b: list[str]) -> np.ndarray:
        phi = self.phi(list(a) + list(b), list(prompts) * 2)
        return phi[: len(a)] - phi[len(a):]

    def rewards(self, lam: np.ndarray, responses: list[str], prompt: str = "") -> np.ndarray:
        return self.phi(responses, [prompt] * len(responses)) @ np.asarray(lam, dtype=float)


def load_scorer(basis, device: str | None = None) -> BackboneScorer:
    """The scorer of a basis directory whose encoder kind is "causal-lm" (bf16 on a GPU)."""
    import torch
    from safetensors.torch import load_file

    from prefchat.basis.encoders import default_device

    enc = basis.meta["encoder"]
    device = device or default_device()
    dtype = "bfloat16" if device.startswith("cuda") else "float32"
    mode = enc.get("mode", "frozen")
    src = str(basis.path / "backbone") if mode == "full" else enc["id"]
    tok, base = load_backbone(src, dtype=dtype)
    if mode == "lora":
        f = basis.path / enc.get("weights", "lora.safetensors")
        try:
            deltas = load_file(str(f))
        except Exception as exc:  # safetensors raises several types for a damaged file
            raise PrefchatError(f"{f}: LoRA weights unreadable ({exc}); rerun `prefchat train`") from None
        mods = dict(base.named_modules())
        with torch.no_grad():
            for path, delta in deltas.items():
                if path not in mods:
                    raise PrefchatError(f"{f}: layer {path!r} is not in backbone {enc['id']!r}; "
                                        "the basis was trained on another model")
                w = mods[path].weight
                w.add_(delta.to(w.dtype))
    model = BackboneReward(base, basis.dims, mode="frozen")
    try:
        state = load_file(str(basis.path / "head.safetensors"))
        model.head.load_state_dict({k.split("linear.", 1)[-1]: v for k, v in state.items()})
    except Exception as exc:
        raise PrefchatError(f"{basis.path}/head.safetensors: head weights unreadable ({exc}); "
                            "rerun `prefchat train`") from None
    return BackboneScorer(tok, model, device, int(enc.get("max_length", 512)))


# -- training ----------------------------------------------------------------------------------------
def _split_prompts(data, heldout: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Pair indices of training and validation prompts (whole prompts are held out)."""
    keys = np.unique(data.pairs.prompt_ids)
    rng = np.random.default_rng(seed)
    n_out = int(round(heldout * keys.size)) if keys.size >= 5 else 0
    out_keys = set(rng.permutation(keys)[:n_out].tolist())
    is_out = np.array([k in out_keys for k in data.pairs.prompt_ids], dtype=bool)
    return np.flatnonzero(~is_out), np.flatnonzero(is_out)


def _obs_auc(lam: np.ndarray, diffs: np.ndarray, prefs, pair_rows: np.ndarray) -> float:
    from prefchat.reward.metrics import auc

    keep = np.isin(prefs.pair, pair_rows)
    if not keep.any():
        return float("nan")
    s = np.einsum("kj,kj->k", lam[prefs.user[keep]], diffs[prefs.pair[keep]])
    return auc(s, prefs.outcome[keep])


def train_backbone_basis(data, out_dir: str | Path | None, backbone: str = DEFAULT_BACKBONE, mode: str = "lora",
                         dims: int = 8, seed: int = 0, epochs: int = 3, init_epochs: int | None = None,
                         batch_size: int = 64, accumulate: int = 1, lr: float = 1e-3,
                         backbone_lr: float | None = None, beta: float = 0.02, max_length: int = 512,
                         svd_init: bool = True, heldout: float = 0.2, device: str | None = None,
                         parallel: Any = None, pool_corpus: str | Path | None = None, name: str | None = None,
                         progress: Progress | None = None) -> dict:
    """Train a causal-LM basis on a PairwiseData (prefchat.loaders) and write the basis directory.

    With `parallel` (prefchat.reward.distributed.Parallel), every process trains on its shard of each
    minibatch under DDP and only rank 0 writes. Returns basis.json's content (plus `_user_vectors`)."""
    import torch

    from prefchat.basis import FORMAT, FORMAT_VERSION, fingerprint
    from prefchat.loaders import check_usable
    from prefchat.reward.data import Preferences
    from prefchat.reward.elicit import population_prior
    from prefchat.basis.encoders import default_device
    from prefchat.reward.factorize import PReF

    t0 = time.perf_counter()
    warnings = check_usable(data, require_overlap=svd_init)
    device = device or (parallel.device if parallel is not None else default_device())
    on_gpu = device.startswith("cuda")
    torch.manual_seed(seed)
    # Full fine-tuning keeps fp32 master weights and runs the forward in bf16 (autocast); LoRA and a
    # frozen backbone keep the frozen base in bf16 on a GPU, halving its memory and bandwidth.
    base_dtype = "bfloat16" if on_gpu and mode != "full" else "float32"
    tok, base = load_backbone(backbone, dtype=base_dtype)
    model = BackboneReward(base, dims, mode=mode, backbone_lr=backbone_lr)

    # The onboarding pool's corpus is read first, so a bad --pool-corpus fails before training does.
    from prefchat.corpus import load_corpus

    main = parallel is None or parallel.rank == 0
    corpus = (data.extra.get("corpus") or load_corpus(pool_corpus)) if out_dir is not None and main else None

    train_idx, val_idx = _split_prompts(data, heldout, seed)
    # Train on the training prompts' pairs only, re-indexed so the preference matrix has no empty columns.
    remap = np.full(len(data.pairs), -1, dtype=np.int64)
    remap[train_idx] = np.arange(train_idx.size)
    keep = remap[data.prefs.pair] >= 0
    prefs = Preferences(data.prefs.user[keep], remap[data.prefs.pair[keep]], data.prefs.outcome[keep],
                        data.prefs.n_users, train_idx.size)
    inputs = TokenizedResponses(tok, data.prompts, data.responses, max_length)

    if parallel is not None:
        from prefchat.reward.distributed import wrap_ddp

        model.to(device)
        fit_model = wrap_ddp(model, parallel)
    else:
        fit_model = model
    pref = PReF(n_components=dims, beta=beta, svd_init=svd_init, init_epochs=init_epochs or epochs,
                epochs=epochs, lr=lr, batch_size=batch_size, weight_decay=0.0, seed=seed, device=device,
                accumulate=accumulate, autocast="bfloat16" if on_gpu else None, parallel=parallel)
    pref.fit(fit_model, inputs, data.pairs.subset(train_idx), prefs, progress=progress)
    model.eval()

    with torch.no_grad():
        phi = np.asarray(model(inputs[np.arange(len(inputs))]).double().cpu().numpy())
    diffs = phi[data.pairs.a] - phi[data.pairs.b]
    lam = pref.user_vectors_
    train_auc = _obs_auc(lam, diffs, data.prefs, train_idx)
    val_auc = _obs_auc(lam, diffs, data.prefs, val_idx)
    mean, precision = population_prior(lam)
    meta = {"format": FORMAT, "version": FORMAT_VERSION, "name": name or (Path(out_dir).name if out_dir else "basis"),
            "dims": dims, "_user_vectors": lam}
    if out_dir is None or (parallel is not None and parallel.rank != 0):
        return meta

    out = Path(out_dir)
    identity = {"kind": "causal-lm", **base_identity(backbone), "max_length": max_length,
                "last_token": True, "chat_template": bool(getattr(tok, "chat_template", None))}
    head_bytes, identity = save_trained(model, tok, out, identity)

    # The onboarding pool: every within-prompt pair of a corpus (the training corpus when the data
    # is one, else the shipped corpus), so the quiz works with this basis as with the default one.
    scorer = BackboneScorer(tok, model, device, max_length)
    prompt_of = [corpus.prompts[corpus.prompt_ids[i]] for i in corpus.response_prompt]
    cphi = scorer.phi(corpus.texts, prompt_of)
    pa, pb, pp = corpus.pairs()
    np.savez(out / "pool.npz", prompt_ids=pp.astype(str), a_ids=np.array(corpus.response_ids)[pa].astype(str),
             b_ids=np.array(corpus.response_ids)[pb].astype(str), diffs=(cphi[pa] - cphi[pb]).astype(np.float32))
    axes = []
    if corpus.traits is not None and len(corpus.texts) > 10:
        from prefchat.basis.train import trait_axes

        ha, hb, _ = corpus.pairs()
        axes = trait_axes(cphi, corpus.traits, np.arange(len(corpus.texts)), ha, hb)

    meta.update({
        "encoder": identity,
        "input": {"reads": "chat-formatted prompt + response; last-token hidden state", "max_length": max_length},
        "training": {"data": data.source, "data_sha256": data.sha256, "seed": seed, "mode": mode,
                     "n_users": data.prefs.n_users, "n_pairs": int(train_idx.size),
                     "n_heldout_pairs": int(val_idx.size), "observations": int(len(prefs)),
                     "density": data.density, "beta": beta, "epochs": epochs, "batch_size": batch_size,
                     "accumulate": accumulate, "lr": lr, "backbone_lr": model.backbone_lr,
                     "world_size": parallel.world_size if parallel is not None else 1,
                     "device": device, "warnings": warnings,
                     "seconds": round(time.perf_counter() - t0, 1)},
        "metrics": {"train_auc": train_auc, "val_auc": val_auc, "elbow": pref.elbow_,
                    "spectrum": [round(float(s), 3) for s in pref.spectrum_[:20]]},
        "axes": axes,
        "prior": {"mean": mean.tolist(), "precision": precision.tolist()},
        "fingerprint": fingerprint(head_bytes, identity),
    })
    meta.pop("_user_vectors")
    tmp = out / "basis.json.tmp"
    tmp.write_text(json.dumps(meta, indent=1) + "\n")
    os.replace(tmp, out / "basis.json")
    np.save(out / "train_user_vectors.npy", lam)  # for comparisons/refits; not read by the app
    meta["_user_vectors"] = lam
    return meta


# -- the random-weight benchmark subject --------------------------------------------------------------
def write_random_qwen05b(path: str | Path, vocab: int = QWEN05B_SHAPE["vocab_size"], device: str = "cpu",
                         seed: int = 0) -> Path:
    """A random-weight model with Qwen2.5-0.5B's exact shape (896 wide, 24 layers, 14 query / 2 kv
    heads, ffn 4864, vocab 151,936 by default), saved in bf16, with a small in-process BPE tokenizer
    and the ChatML template. The tokenizer's few hundred ids are a subset of the model's vocabulary;
    the full-size embedding is kept so full fine-tuning pays for it as the real model would."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    from prefchat.llm.synthetic import write_random_hf

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
    import statistics

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
