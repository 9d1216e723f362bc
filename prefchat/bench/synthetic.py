"""Random-weight models for tests and benchmarks: a GGUF written with the `gguf` package and a tiny
Hugging Face Qwen2 with a tokenizer trained in-process.

Why random weights are good enough: decoding speed does not depend on the weight values (docs/FORMATS.md, LLM backends),
and the backends' contracts (batching, seeds, streaming, cancel) do not depend on the text making sense.
Nothing here downloads anything.

`gguf`, `tokenizers`, `transformers` and `torch` are imported inside the functions: this module is
imported by `prefchat bench` and must stay cheap to import.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from prefchat.errors import PrefchatError

# ChatML, the template Qwen models use. Stored in both kinds of model so the backends' chat-template
# code paths (not their fallbacks) are what the tests exercise.
CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
SPECIAL_TOKENS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>")


@dataclass(frozen=True)
class GGUFShape:
    """Dimensions of a llama-family GGUF. `arch` is "llama" or "qwen2" (qwen2 adds q/k/v biases)."""

    arch: str
    n_embd: int
    n_layer: int
    n_head: int
    n_head_kv: int
    n_ff: int
    n_vocab: int
    n_ctx: int = 2048


# Small enough to write and load in well under a second; head_dim 16. Row sizes are multiples of 32
# so the same shape can be written as Q8_0.
TINY = GGUFShape(arch="llama", n_embd=64, n_layer=2, n_head=4, n_head_kv=2, n_ff=128, n_vocab=512,
                 n_ctx=1024)
# Qwen2.5-0.5B's real dimensions except the vocabulary: the real one has 151,936 tokens, which would
# add ~130 MB of embedding to the file and ~15% to a one-row step (the output projection). 32,768
# keeps the file ~0.4 GB at Q8_0 while every transformer block costs exactly what the real model's do.
# A multi-row step with a Q8_0 output pays much more than 15% for the real vocabulary (the output
# runs in llamafile's tinyBLAS, see QUANTS): measure that with QWEN05B_FULL.
QWEN05B = GGUFShape(arch="qwen2", n_embd=896, n_layer=24, n_head=14, n_head_kv=2, n_ff=4864,
                    n_vocab=32768, n_ctx=4096)
# The real vocabulary, for measuring what the 151,936-row output projection costs a batched step.
QWEN05B_FULL = GGUFShape(arch="qwen2", n_embd=896, n_layer=24, n_head=14, n_head_kv=2, n_ff=4864,
                         n_vocab=151936, n_ctx=4096)
SHAPES = {"tiny": TINY, "qwen05b": QWEN05B, "qwen05b-full": QWEN05B_FULL}

# Weight recipes: name -> (type of the block matrices, type of the tied token embedding / output
# projection, GGUF general.file_type). They follow what `llama-quantize` writes for a Qwen2.5-0.5B
# (896 wide, tied output): for q4_0 and q5_0 it picks Q6_K for the output and falls back to Q8_0,
# because 896 is not a multiple of the 256-wide K-quant block; q8_0 is Q8_0 throughout (the 0.5B
# model with its real vocabulary is then ~530 MB, the size of the published q8_0 file).
# "q4_0-pure" is `llama-quantize --pure Q4_0`: the output in Q4_0 too.
# Why the choice matters for best-of-N: llama.cpp's CPU build repacks Q4_0 (not Q8_0 or Q5_0) into
# an interleaved layout whose multi-row kernel reads each weight once for 4+ rows; Q8_0 and Q5_0
# multi-row products go through llamafile's tinyBLAS, which on the 2-core AVX-512 machine costs more
# per row than the one-row kernel (BENCHMARKS.md, "llama.cpp best-of-4 on 2 cores").
QUANTS = {"f32": ("F32", "F32", 0), "f16": ("F16", "F16", 1), "q8_0": ("Q8_0", "Q8_0", 7),
          "q4_0": ("Q4_0", "Q8_0", 2), "q5_0": ("Q5_0", "Q8_0", 8),
          "q4_0-pure": ("Q4_0", "Q4_0", 2)}


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2's byte -> printable character map: byte-level BPE vocabularies store tokens this way."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(
        range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, (chr(c) for c in cs)))


def _bpe_vocab(n_vocab: int) -> tuple[list[str], list[str], list[int]]:
    """A unique byte-level BPE vocabulary of exactly n_vocab tokens, its merges and token types.

    The 256 byte tokens make every string tokenizable; the merged tokens are lowercase pairs/triples
    with and without a leading space ("Ġ"), each reachable by a listed merge, so prompts tokenize
    into a realistic mix. Special tokens go last and are CONTROL (type 3) so llama.cpp treats
    <|im_end|> as end-of-generation and parses the chat markers as single tokens.
    """
    byte_tokens = list(_bytes_to_unicode().values())
    n_normal = n_vocab - len(SPECIAL_TOKENS)
    if n_normal < len(byte_tokens):
        raise ValueError(f"n_vocab must be at least {len(byte_tokens) + len(SPECIAL_TOKENS)}")
    tokens, merges, seen = list(byte_tokens), [], set(byte_tokens)
    letters = "etaoinshrdlcumwfgypbvkjxqz"

    def add(left: str, right: str) -> bool:
        tok = left + right
        if tok in seen or len(tokens) >= n_normal:
            return False
        seen.add(tok)
        tokens.append(tok)
        merges.append(f"{left} {right}")
        return True

    for a in letters:
        add("Ġ", a)
    for a in letters:
        for b in letters:
            add(a, b)
            add("Ġ" + a, b)
    for a in letters:
        for b in letters:
            for c in letters:
                add(a + b, c)
                add("Ġ" + a + b, c)
    i = 0
    while len(tokens) < n_normal:  # only for vocabularies beyond ~36k: numbered filler tokens
        tok = f"<t{i}>"
        i += 1
        if tok not in seen:
            seen.add(tok)
            tokens.append(tok)
    types = [1] * len(tokens) + [3] * len(SPECIAL_TOKENS)
    return tokens + list(SPECIAL_TOKENS), merges, types


def write_random_gguf(path: str | os.PathLike, shape: GGUFShape = TINY, *, quant: str = "f32",
                      seed: int = 0, chat_template: str | None = CHATML_TEMPLATE) -> Path:
    """Write a random-weight GGUF that llama.cpp loads and runs. quant: a QUANTS recipe.

    One set of block weights is generated and written for every layer: values do not affect speed,
    and it makes the 24-layer benchmark file quick to build. The file is written to a temporary name
    and renamed, so an interrupted build never leaves a truncated GGUF behind.
    """
    try:
        import gguf
        import numpy as np
    except ImportError as exc:  # gguf is a test/bench extra, not a runtime dependency
        raise PrefchatError("writing a GGUF needs the 'gguf' package: pip install gguf") from exc

    if quant not in QUANTS:
        raise ValueError(f"quant must be one of {sorted(QUANTS)}")
    block_name, embd_name, file_type = QUANTS[quant]
    qtype = getattr(gguf.GGMLQuantizationType, block_name)
    embd_type = getattr(gguf.GGMLQuantizationType, embd_name)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    rng = np.random.default_rng(seed)
    s = shape
    head_dim = s.n_embd // s.n_head

    def mat(rows: int, cols: int, std: float) -> np.ndarray:
        return (rng.standard_normal((rows, cols), dtype=np.float32) * std)

    # (id(array), type) -> (array, converted): each shared block array is converted once. The
    # source array is kept so its id cannot be reused by a later array (the embedding is a
    # temporary: once freed, a block array could get its id and be written with its data).
    converted: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}

    def convert(arr: np.ndarray, t) -> np.ndarray:
        key = (id(arr), int(t))
        if key not in converted:
            out = (arr.astype(np.float16) if t == gguf.GGMLQuantizationType.F16
                   else gguf.quants.quantize(arr, t))
            converted[key] = (arr, out)
        return converted[key][1]

    def add_matrix(w: gguf.GGUFWriter, name: str, arr: np.ndarray, t=qtype) -> None:
        if t == gguf.GGMLQuantizationType.F32:
            w.add_tensor(name, arr)
        elif t == gguf.GGMLQuantizationType.F16:
            w.add_tensor(name, convert(arr, t))
        else:
            q = convert(arr, t)
            w.add_tensor(name, q, raw_shape=q.shape, raw_dtype=t)

    tokens, merges, types = _bpe_vocab(s.n_vocab)
    w = gguf.GGUFWriter(str(tmp), s.arch)
    w.add_name(f"prefchat-random-{s.arch}-{s.n_layer}L-{s.n_embd}")
    w.add_context_length(s.n_ctx)
    w.add_embedding_length(s.n_embd)
    w.add_block_count(s.n_layer)
    w.add_feed_forward_length(s.n_ff)
    w.add_head_count(s.n_head)
    w.add_head_count_kv(s.n_head_kv)
    w.add_layer_norm_rms_eps(1e-6)
    w.add_rope_freq_base(10000.0)
    w.add_file_type(file_type)
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("qwen2")
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_merges(merges)
    w.add_bos_token_id(tokens.index("<|endoftext|>"))
    w.add_eos_token_id(tokens.index("<|im_end|>"))
    w.add_pad_token_id(tokens.index("<|endoftext|>"))
    w.add_add_bos_token(False)
    if chat_template:
        w.add_chat_template(chat_template)

    # std 0.02 (GPT-2's init) keeps activations tame; logits come out nearly flat, so sampling
    # with different seeds gives clearly different token streams.
    add_matrix(w, "token_embd.weight", mat(s.n_vocab, s.n_embd, 0.02), embd_type)
    w.add_tensor("output_norm.weight", np.ones(s.n_embd, dtype=np.float32))
    block = {
        "attn_q.weight": mat(s.n_head * head_dim, s.n_embd, 0.02),
        "attn_k.weight": mat(s.n_head_kv * head_dim, s.n_embd, 0.02),
        "attn_v.weight": mat(s.n_head_kv * head_dim, s.n_embd, 0.02),
        "attn_output.weight": mat(s.n_embd, s.n_head * head_dim, 0.02),
        "ffn_gate.weight": mat(s.n_ff, s.n_embd, 0.02),
        "ffn_up.weight": mat(s.n_ff, s.n_embd, 0.02),
        "ffn_down.weight": mat(s.n_embd, s.n_ff, 0.02),
    }
    for i in range(s.n_layer):
        w.add_tensor(f"blk.{i}.attn_norm.weight", np.ones(s.n_embd, dtype=np.float32))
        w.add_tensor(f"blk.{i}.ffn_norm.weight", np.ones(s.n_embd, dtype=np.float32))
        for name, arr in block.items():
            add_matrix(w, f"blk.{i}.{name}", arr)
        if s.arch == "qwen2":  # Qwen2 has biases on q, k and v (and llama.cpp requires them)
            w.add_tensor(f"blk.{i}.attn_q.bias", np.zeros(s.n_head * head_dim, dtype=np.float32))
            w.add_tensor(f"blk.{i}.attn_k.bias", np.zeros(s.n_head_kv * head_dim, dtype=np.float32))
            w.add_tensor(f"blk.{i}.attn_v.bias", np.zeros(s.n_head_kv * head_dim, dtype=np.float32))
    # No output.weight: llama.cpp ties the output projection to token_embd, as Qwen2.5-0.5B does.
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    os.replace(tmp, path)
    return path


def write_random_hf(directory: str | os.PathLike, *, hidden: int = 64, layers: int = 2,
                    heads: int = 4, kv_heads: int = 2, ffn: int = 128, vocab: int = 400,
                    seed: int = 0) -> Path:
    """Save a random-weight Qwen2ForCausalLM plus a byte-level BPE tokenizer trained in-process on a
    few sentences, with the ChatML template, so AutoTokenizer/AutoModelForCausalLM load it offline."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    corpus = [
        "The quick brown fox jumps over the lazy dog.",
        "How do I make a cup of tea? Boil water, add the leaves, wait three minutes.",
        "You are a helpful assistant. Answer briefly and politely.",
        "Hello! What a lovely day it is; tell me a joke about cats and keyboards.",
    ] * 20
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab, special_tokens=list(SPECIAL_TOKENS),
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(corpus, trainer)
    hf_tok = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>",
                                     pad_token="<|endoftext|>", bos_token=None)
    hf_tok.chat_template = CHATML_TEMPLATE
    hf_tok.save_pretrained(directory)

    cfg = Qwen2Config(vocab_size=len(hf_tok), hidden_size=hidden, intermediate_size=ffn,
                      num_hidden_layers=layers, num_attention_heads=heads,
                      num_key_value_heads=kv_heads, max_position_embeddings=1024,
                      eos_token_id=hf_tok.eos_token_id, pad_token_id=hf_tok.pad_token_id,
                      bos_token_id=None, tie_word_embeddings=True)
    torch.manual_seed(seed)
    model = Qwen2ForCausalLM(cfg)
    model.generation_config.eos_token_id = hf_tok.eos_token_id
    model.generation_config.pad_token_id = hf_tok.pad_token_id
    model.save_pretrained(directory)
    return directory
