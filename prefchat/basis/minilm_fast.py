"""A fast CPU forward pass of all-MiniLM-L6-v2 that gives the same sentence embeddings as the
transformers model (prefchat.basis.encoders.MiniLMEncoder), without its padding and per-call costs.

Why it is faster, and why it is still the same function:
* Packed tokens. The sentences of all candidates are tokenized without padding and laid end to end:
  every linear layer (the bulk of the work) runs once per layer on exactly the real tokens, as one
  large matrix product. Attention still runs inside each sentence (length-sorted groups with a key
  mask), so every sentence sees only its own tokens, exactly as when it is encoded alone; only the
  padding the batched model computes and then masks away is skipped.
* bf16 matrix products with fp32 accumulation on CPUs that have them (AVX512-BF16: about 3x the fp32
  rate here). Residuals, LayerNorm, softmax and pooling stay in fp32, so the sentence embeddings
  agree with the fp32 model to within bf16 rounding (phi correlation > 0.9999, tested); fp32 on
  other CPUs.
* Identical sentences (greetings, sign-offs shared by candidates) are encoded once per call.
* It reads the safetensors weights and tokenizer.json directly: no transformers import, so loading
  takes a fraction of the transformers model's time.

Quantising to int8 was rejected: it moved phi too much (correlation 0.957 with torch's dynamic int8,
0.9974 with ONNX Runtime's per-channel int8; the rule is >= 0.999).

torch and tokenizers are imported inside the functions that need them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

# Groups of length-sorted sentences share one padded attention call; a group grows while padding
# would stay under this share of its tokens (short sentences dominate chat replies).
_GROUP_PAD_SHARE = 0.25
_GROUP_MAX_TOKENS = 4096
_PASS_TOKENS = 16384


def bf16_matmul_is_fast() -> bool:
    """bf16 GEMMs are only a win with native bf16 dot products (AVX512-BF16 / AMX)."""
    import torch

    try:
        return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())
    except AttributeError:  # an older torch without the probes: stay exact
        return False


def length_groups(lengths: list[int]) -> list[list[int]]:
    """Indices of sentences grouped for attention: sorted by length, consecutive, each group's padding
    (to its longest sentence) at most _GROUP_PAD_SHARE of its tokens. Every index appears once."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    groups: list[list[int]] = []
    cur: list[int] = []
    real = 0
    for i in order:
        n = lengths[i]  # the longest so far, since sorted
        if cur and ((len(cur) + 1) * n - (real + n) > _GROUP_PAD_SHARE * (real + n)
                    or (len(cur) + 1) * n > _GROUP_MAX_TOKENS):
            groups.append(cur)
            cur, real = [], 0
        cur.append(i)
        real += n
    if cur:
        groups.append(cur)
    return groups


class FastMiniLM:
    """Sentence embeddings (mean-pooled, L2-normalised, 384-d) of a BERT-architecture sentence encoder
    read from its model folder (config.json, model.safetensors, tokenizer.json)."""

    def __init__(self, folder: Path, max_length: int = 256, bf16: bool | None = None) -> None:
        import torch
        from safetensors.torch import load_file
        from tokenizers import Tokenizer

        cfg = json.loads((Path(folder) / "config.json").read_text())
        if cfg.get("model_type") != "bert" or cfg.get("hidden_act") != "gelu" or \
                cfg.get("position_embedding_type", "absolute") != "absolute":
            raise ValueError(f"{folder}: not a plain BERT encoder; use the transformers path")
        self.heads = int(cfg["num_attention_heads"])
        self.eps = float(cfg["layer_norm_eps"])
        self.max_length = min(max_length, int(cfg["max_position_embeddings"]))
        self.bf16 = bf16_matmul_is_fast() if bf16 is None else bf16
        tok = Tokenizer.from_file(str(Path(folder) / "tokenizer.json"))
        tok.no_padding()  # tokenizer.json pads to 128 and truncates at 128; we pack, and cut at max_length
        tok.enable_truncation(max_length=self.max_length)
        self.tokenizer = tok
        w = load_file(str(Path(folder) / "model.safetensors"))
        mm = torch.bfloat16 if self.bf16 else torch.float32

        def lin(prefix: str) -> tuple:
            return w[prefix + ".weight"].to(mm).contiguous(), w[prefix + ".bias"].to(mm)

        self.word = w["embeddings.word_embeddings.weight"]
        self.pos = w["embeddings.position_embeddings.weight"]
        self.type0 = w["embeddings.token_type_embeddings.weight"][0]
        self.emb_ln = (w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        self.layers = []
        for i in range(int(cfg["num_hidden_layers"])):
            p = f"encoder.layer.{i}."
            q, k, v = (w[p + f"attention.self.{n}.weight"] for n in ("query", "key", "value"))
            qb, kb, vb = (w[p + f"attention.self.{n}.bias"] for n in ("query", "key", "value"))
            self.layers.append({
                # one fused product for query, key and value
                "qkv": (torch.cat([q, k, v]).to(mm).contiguous(), torch.cat([qb, kb, vb]).to(mm)),
                "out": lin(p + "attention.output.dense"),
                "ln1": (w[p + "attention.output.LayerNorm.weight"], w[p + "attention.output.LayerNorm.bias"]),
                "up": lin(p + "intermediate.dense"),
                "down": lin(p + "output.dense"),
                "ln2": (w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"]),
            })
        self.dim = self.word.shape[1]
        self._mm = mm
        self._torch = torch

    def _linear(self, x, wb):
        """x @ W^T + b in the matmul dtype (fp32 accumulation inside), back to fp32."""
        return self._torch.nn.functional.linear(x.to(self._mm), wb[0], wb[1]).float()

    def token_ids(self, texts: list[str]) -> list[list[int]]:
        return [e.ids for e in self.tokenizer.encode_batch(texts, add_special_tokens=True)]

    def encode(self, texts: list[str]) -> np.ndarray:
        """One embedding per text, in input order; duplicates are computed once. Passes hold at most
        _PASS_TOKENS tokens, which bounds memory when a refit scores hundreds of answers at once."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        uniq = list(dict.fromkeys(texts))
        ids = self.token_ids(uniq)
        parts, start, size = [], 0, 0
        for i, s in enumerate(ids):
            if size and size + len(s) > _PASS_TOKENS:
                parts.append(self.encode_ids(ids[start:i]))
                start, size = i, 0
            size += len(s)
        parts.append(self.encode_ids(ids[start:]))
        emb = np.concatenate(parts)
        where = {t: i for i, t in enumerate(uniq)}
        return emb[[where[t] for t in texts]]

    def encode_ids(self, ids: list[list[int]]) -> np.ndarray:
        torch = self._torch
        lengths = [len(s) for s in ids]
        with torch.inference_mode():
            x = self.hidden_states(ids)
            owner = torch.repeat_interleave(torch.arange(len(ids)), torch.tensor(lengths))
            pooled = x.new_zeros(len(ids), self.dim).index_add_(0, owner, x)
            pooled /= torch.tensor(lengths, dtype=x.dtype)[:, None]
            return torch.nn.functional.normalize(pooled, dim=-1).numpy()

    def hidden_states(self, ids: list[list[int]]):
        """The last layer's rows for every token of every sequence, packed end to end (n_tokens x dim);
        encode_ids mean-pools them per sequence."""
        torch = self._torch
        F = torch.nn.functional
        lengths = [len(s) for s in ids]
        n_tok, dim, heads = sum(lengths), self.dim, self.heads
        with torch.inference_mode():
            flat = torch.tensor([t for s in ids for t in s], dtype=torch.long)
            positions = torch.cat([torch.arange(n) for n in lengths])
            x = self.word[flat] + self.pos[positions] + self.type0
            x = F.layer_norm(x, (dim,), *self.emb_ln, eps=self.eps)
            starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
            # Per group: a gather index [b, t] into the packed rows, and which entries are real.
            # Padding points at row 0: as a key it is masked out, as a query its output is dropped.
            plan = []
            for g in length_groups(lengths):
                t = max(lengths[i] for i in g)
                idx = np.zeros((len(g), t), dtype=np.int64)
                real = np.zeros((len(g), t), dtype=bool)
                for r, i in enumerate(g):
                    idx[r, :lengths[i]] = np.arange(starts[i], starts[i] + lengths[i])
                    real[r, :lengths[i]] = True
                idx_t, valid = torch.from_numpy(idx), torch.from_numpy(real)
                plan.append((idx_t, valid, valid[:, None, None, :], idx_t[valid]))
            hd = dim // heads
            for layer in self.layers:
                qkv = self._linear(x, layer["qkv"])
                ctx = x.new_empty(n_tok, dim)
                for idx_t, valid, key_mask, rows in plan:
                    b, t = idx_t.shape
                    q, k, v = qkv[idx_t].view(b, t, 3, heads, hd).permute(2, 0, 3, 1, 4)
                    a = F.scaled_dot_product_attention(q, k, v, attn_mask=key_mask)
                    ctx[rows] = a.transpose(1, 2).reshape(b, t, dim)[valid]
                x = F.layer_norm(x + self._linear(ctx, layer["out"]), (dim,), *layer["ln1"], eps=self.eps)
                # GELU on the matmul dtype: the next product reads it in that dtype anyway, and the
                # widest activation skips two casts.
                h = F.gelu(F.linear(x.to(self._mm), *layer["up"]))
                x = F.layer_norm(x + self._linear(h, layer["down"]), (dim,), *layer["ln2"], eps=self.eps)
            return x
