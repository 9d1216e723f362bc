"""The random-weight GGUF builder's weight recipes (prefchat.bench.synthetic.QUANTS): each tensor is
written in the type the recipe names (read back from the file with gguf's reader, not trusted from the
writer), and llama.cpp loads and decodes every quantised recipe. The recipes decide which llama.cpp
CPU kernels a benchmark measures, so a recipe that silently wrote Q8_0 everywhere would make the
`bench generate --quant` figures lie."""

from __future__ import annotations

import pytest

from prefchat.llm import GenerationRequest, make_backend
from prefchat.bench.synthetic import QUANTS, TINY, write_random_gguf

from .conftest import CHAT
from .tiny_models import repacks_q4_0


def tensor_types(path) -> dict[str, str]:
    import gguf

    reader = gguf.GGUFReader(str(path))
    return {t.name: t.tensor_type.name for t in reader.tensors}


def file_type(path) -> int:
    import gguf

    field = gguf.GGUFReader(str(path)).get_field("general.file_type")
    return int(field.parts[field.data[0]][0])


RECIPES = [
    ("q8_0", "Q8_0", "Q8_0", 7),
    ("q4_0", "Q4_0", "Q8_0", 2),  # llama-quantize's tied-output fallback for a 896-wide model
    ("q5_0", "Q5_0", "Q8_0", 8),
    ("q4_0-pure", "Q4_0", "Q4_0", 2),
]


def test_every_quantised_recipe_is_checked_here():
    assert {r[0] for r in RECIPES} == set(QUANTS) - {"f32", "f16"}


@pytest.mark.parametrize("quant,block,embd,ftype", RECIPES)
def test_recipe_writes_the_named_tensor_types(tmp_path, quant, block, embd, ftype):
    path = write_random_gguf(tmp_path / f"{quant}.gguf", TINY, quant=quant)
    types = tensor_types(path)
    matrices = {n: t for n, t in types.items() if n.startswith("blk.") and not n.endswith("norm.weight")}
    assert len(matrices) == 7 * TINY.n_layer  # q, k, v, o, gate, up, down per layer
    assert set(matrices.values()) == {block}
    assert types["token_embd.weight"] == embd
    assert "output.weight" not in types  # tied, as in Qwen2.5-0.5B
    assert {types[f"blk.0.{n}_norm.weight"] for n in ("attn", "ffn")} == {"F32"}
    assert file_type(path) == ftype


def test_unknown_recipe_is_refused(tmp_path):
    with pytest.raises(ValueError, match="quant must be one of"):
        write_random_gguf(tmp_path / "x.gguf", TINY, quant="q4_k_m")
    assert not list(tmp_path.iterdir())  # nothing half-written


@pytest.mark.parametrize("quant,repacked", [("q4_0", 14), ("q5_0", 0), ("q4_0-pure", 15)])
def test_llama_cpp_decodes_every_quantised_recipe_in_one_batch(tmp_path, quant, repacked):
    """...and the backend counts the matrices llama.cpp repacked for its multi-row CPU kernel
    (Q4_0 on this x86 build; not Q5_0/Q8_0), read from llama.cpp's own load log."""
    path = write_random_gguf(tmp_path / f"{quant}.gguf", TINY, quant=quant)
    b = make_backend("llama", str(path), n_ctx=512, max_parallel=4, n_threads=1)
    b.load()
    if repacks_q4_0():
        assert b.repacked == repacked
    try:
        out = b.generate(GenerationRequest(CHAT, n=4, max_tokens=8, temperature=1.0, seed=3,
                                           ignore_eos=True))
    finally:
        b.close()
    assert b.batched and [c.n_tokens for c in out] == [8] * 4
    assert len({c.text for c in out}) == 4  # four different seeds, four different replies
