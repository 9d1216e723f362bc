"""`prefchat bench basis --backbone` with the speed paths of issue 16 item 5: the output says which
path ran (asked for and actually used), the figures follow from the arguments, and a path that
cannot run here falls back with its reason instead of failing. A real tiny Qwen2 from a config on
the CPU; these check the measuring code, not the speed (that is BENCHMARKS.md's, on a GPU)."""

from __future__ import annotations

import pytest

from prefchat.errors import PrefchatError
from tests.backbone.helpers import write_tiny_qwen

pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return str(write_tiny_qwen(tmp_path_factory.mktemp("bbpaths") / "tiny"))


def test_json_says_which_paths_ran(tiny):
    from prefchat.bench import basis

    out = basis.measure(tiny, mode="lora", device="cpu", train_pairs=4, train_tokens=16, steps=2,
                        capture="graph", fused=True, bucket_tokens=32, mixed_lengths=True)
    assert out["targets"] == {"latency_8x256_ms": 10.0, "train_pairs_per_s": 600.0}
    t = out["train"]
    assert t["path"] == {"fused_adamw": True, "compiled": False, "bucket_tokens": 32, "mixed_lengths": True}
    assert t["pairs_per_step"] == 4 and t["steps"] == 2
    # Mixed lengths: the real tokens per step lie between a quarter and all of 2 x 4 x 16.
    per_step = t["tokens_per_s"] * t["seconds"] / t["steps"]
    assert 2 * 4 * 4 <= per_step < 2 * 4 * 16
    s = out["score"]
    assert s["capture"] == "graph" and s["path"] == "eager" and "CUDA" in s["capture_note"]
    assert out["latency_8x256_ms"]["median"] > 0 and s["responses_per_s"] > 0
    text = basis.report(out)
    assert "path eager (asked: graph; CUDA graphs need a CUDA device)" in text
    assert "fused AdamW True, compiled False, length buckets 32" in text and "target >= 600" in text


def test_score_part_alone_and_a_failed_training_compile_falls_back(tiny, monkeypatch):
    import torch

    from prefchat.bench import basis

    out = basis.measure(tiny, mode="frozen", device="cpu", part="score")
    assert "train" not in out and "trainable_params" not in out and out["score"]["path"] == "eager"
    assert "latency to score 8 x 256" in basis.report(out) and "training:" not in basis.report(out)

    def broken(model, **_):
        def run(*a, **k):
            raise RuntimeError("inductor is not here\nsecond line")
        return run

    monkeypatch.setattr(torch, "compile", broken)
    out = basis.measure(tiny, mode="frozen", device="cpu", part="train", train_pairs=2, train_tokens=8, steps=1,
                        compile_train=True)
    p = out["train"]["path"]
    assert p["compiled"] is False and p["compile_error"] == "RuntimeError: inductor is not here"
    assert out["train"]["pairs_per_s"] > 0 and "score" not in out


@pytest.mark.parametrize("kw, flag", [({"capture": "cudagraph"}, "--capture"), ({"part": "all"}, "--part"),
                                      ({"bucket_tokens": -1}, "--bucket-tokens")])
def test_bad_flags_are_one_line_errors(tiny, kw, flag):
    from prefchat.bench import basis

    with pytest.raises(PrefchatError, match=flag):
        basis.measure(tiny, device="cpu", **kw)
