"""Captured backbone scoring (prefchat.basis.backbone_capture) gives the scores of the plain eager
path: padding up to a shape bucket (extra left-pad columns, extra copied rows) must not reach the
pooled features, and the torch.compile path must compute the same function. A real tiny Qwen2 from a
config on the CPU; CUDA graphs themselves need a GPU (.ci/gpu_check.sh runs them there)."""

from __future__ import annotations

import time

import numpy as np
import pytest

from .helpers import write_tiny_qwen

pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """(tokenizer, frozen BackboneReward in fp32, eval) with a head scaled up so that scores are O(1)
    and a leak of padding into the last token's state would show far above float rounding."""
    import torch

    from prefchat.reward.nets import BackboneReward, load_backbone

    tok, base = load_backbone(str(write_tiny_qwen(tmp_path_factory.mktemp("cap") / "tiny")))
    torch.manual_seed(0)
    model = BackboneReward(base, 4, mode="frozen").eval()
    with torch.no_grad():
        model.head.weight.normal_(0.0, 1.0)
    return tok, model


def seqs_of(lengths, vocab=300, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.integers(3, vocab, size=n).tolist() for n in lengths]


def alone(model, seqs):
    """Each sequence scored on its own, unpadded: the reference padding must not change."""
    import torch

    with torch.inference_mode():
        return np.stack([model({"input_ids": torch.tensor([s]), "attention_mask": torch.ones(1, len(s), dtype=torch.long)})
                         [0].double().numpy() for s in seqs])


def test_bucket_padding_does_not_change_scores(tiny):
    from prefchat.basis.backbone_capture import CapturedScorer, bucket

    tok, model = tiny
    seqs = seqs_of([3, 17, 40, 64, 9])
    # 5 rows -> a batch bucket of 8 (3 copied rows); 64 tokens -> 128 (64+ pad columns even for the longest)
    cap = CapturedScorer(model, tok.pad_token_id, capture="graph", batch_buckets=(8,), length_buckets=(128,))
    assert cap.shape_for(5, 64) == (8, 128)
    assert cap.path == "eager" and "CUDA" in cap.reason  # no GPU here: the bucketed eager forward
    got = cap.phi(seqs)
    ref = alone(model, seqs)
    assert np.abs(ref).max() > 0.1  # scores far above the tolerance, so a leak cannot hide in it
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5)
    # The default buckets too, and a call larger than the largest batch bucket (chunked).
    many = seqs_of(list(range(1, 41)), seed=1)
    small = CapturedScorer(model, tok.pad_token_id, capture="off", batch_buckets=(4, 16))
    np.testing.assert_allclose(small.phi(many), alone(model, many), rtol=1e-5, atol=1e-5)
    assert bucket(3, (1, 2, 4)) == 4 and bucket(9, (1, 2, 4)) == 12 and bucket(2048, (64, 512)) == 2048


def test_scorer_with_capture_matches_plain_scorer(tiny):
    from prefchat.basis.backbone_scorer import BackboneScorer

    tok, model = tiny
    texts = ["Hello there.", "A much longer answer, with several clauses, that goes on for a while!", "ok"]
    prompts = ["Say hi", "Explain", "Fine?"]
    plain = BackboneScorer(tok, model, "cpu", 64)
    bucketed = BackboneScorer(tok, model, "cpu", 64, capture="graph")
    assert plain.captured is None and bucketed.captured is not None
    np.testing.assert_allclose(bucketed.phi(texts, prompts), plain.phi(texts, prompts), rtol=1e-5, atol=1e-5)


def test_unknown_capture_is_refused(tiny):
    from prefchat.basis.backbone_capture import CapturedScorer

    with pytest.raises(ValueError, match="capture must be one of"):
        CapturedScorer(tiny[1], 0, capture="cudagraph")


@pytest.mark.slow  # inductor compiles the tiny model's forward on the CPU (~20-60 s on 2 shared cores)
def test_compiled_scores_equal_eager(tiny):
    from prefchat.basis.backbone_capture import CapturedScorer

    tok, model = tiny
    seqs = seqs_of([5, 30, 12, 31], seed=2)
    cap = CapturedScorer(model, tok.pad_token_id, capture="compile", batch_buckets=(4,), length_buckets=(32,))
    t0 = time.perf_counter()
    cap.warmup([(4, 32)])
    assert cap.path == "compile", cap.reason  # compiled, not fallen back to eager
    got = cap.phi(seqs)
    assert cap.path == "compile", cap.reason
    np.testing.assert_allclose(got, alone(model, seqs), rtol=1e-4, atol=1e-4)
    assert time.perf_counter() - t0 < 600
