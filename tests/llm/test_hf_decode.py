"""The transformers decode loop (llm/hf_decode.py) against transformers' own `generate`: the same
greedy tokens with left-padded rows over a static cache, end of turn per row, and chunked host work."""

from __future__ import annotations

import threading

import pytest

from prefchat.llm.hf_decode import decode


@pytest.fixture(scope="module")
def lm(tiny_hf):
    torch = pytest.importorskip("torch")
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_hf)
    model = AutoModelForCausalLM.from_pretrained(tiny_hf).eval()
    # The saved tiny model's small random weights make greedy decoding repeat one token, which would
    # make a comparison of token sequences weak; larger weights give varied, prompt-dependent text.
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() > 1:
                p.copy_(torch.randn(p.shape, generator=g) * 0.4)
    return tok, model


def _rows(tok, prompts):
    import torch

    enc = [tok(p, add_special_tokens=False)["input_ids"] for p in prompts]
    width, pad = max(map(len, enc)), tok.pad_token_id
    ids = torch.tensor([[pad] * (width - len(r)) + r for r in enc])
    mask = torch.tensor([[0] * (width - len(r)) + [1] * len(r) for r in enc])
    return ids, mask, pad


def _decode(model, ids, mask, pad, eos=frozenset({-5}), **kw):
    import torch

    calls = []
    with torch.inference_mode():
        rows = decode(model, ids, mask, max_new=kw.pop("max_new", 16), eos_ids=set(eos),
                      temperature=0, top_p=1.0, ignore_eos=False, seed=0, cancel=threading.Event(),
                      on_tokens=lambda r, changed: calls.append(list(changed)), **kw)
    return rows, calls


def test_greedy_tokens_match_transformers_generate_with_left_padding(lm):
    import torch

    tok, model = lm
    ids, mask, pad = _rows(tok, ["Hello! What a lovely day", "How do I make a cup of tea? Boil water"])
    assert mask[0].sum() != mask[1].sum()  # the rows really are padded differently
    with torch.inference_mode():
        ref = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=16, do_sample=False,
                             pad_token_id=pad, min_new_tokens=16)[:, ids.shape[1]:].tolist()
    rows, _ = _decode(model, ids, mask, pad)
    assert rows.tokens == ref
    assert len(set(ref[0])) > 3 and ref[0] != ref[1]  # varied text, and each row follows its prompt


def test_a_row_ends_at_its_end_of_turn_and_the_others_go_on(lm):
    tok, model = lm
    ids, mask, pad = _rows(tok, ["Hello! What a lovely day", "How do I make a cup of tea? Boil water"])
    free, _ = _decode(model, ids, mask, pad)
    stop_at = 5
    end = free.tokens[0][stop_at]
    assert end not in free.tokens[0][:stop_at] and end not in free.tokens[1]
    rows, _ = _decode(model, ids, mask, pad, eos={end})
    assert rows.tokens[0] == free.tokens[0][:stop_at] and rows.finish[0] == "stop"
    assert rows.tokens[1] == free.tokens[1] and rows.finish[1] is None  # ran to max_new


def test_host_work_happens_once_per_chunk(lm):
    tok, model = lm
    ids, mask, pad = _rows(tok, ["Hello! What a lovely day"])
    one, calls_1 = _decode(model, ids, mask, pad, chunk=1)
    four, calls_4 = _decode(model, ids, mask, pad, chunk=4)
    assert one.tokens == four.tokens
    assert len(calls_1) == 16 and len(calls_4) == 4


@pytest.mark.slow
def test_the_compiled_step_decodes_the_same_tokens(lm):
    """compile_steps traces the decode step with torch.compile (CUDA graphs on a GPU; inductor on this
    CPU): the fixed shapes must trace, and the tokens must not change. About 20 s of compiling."""
    tok, model = lm
    ids, mask, pad = _rows(tok, ["Hello! What a lovely day", "How do I make a cup of tea? Boil water"])
    eager, _ = _decode(model, ids, mask, pad, max_new=10)
    compiled, _ = _decode(model, ids, mask, pad, max_new=10, compile_step=True)
    assert compiled.tokens == eager.tokens
