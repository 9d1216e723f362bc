"""The fast CPU scoring path (packed bf16 MiniLM forward) computes the same phi as the reference
transformers fp32 path of the shipped basis, on real corpus responses; and the pieces it is built
from (tokens, packing, pooling, deduplication, the feature cache) each do what they say."""

from __future__ import annotations

import numpy as np
import pytest

from prefchat.basis import load_basis
from prefchat.data import load_corpus
from prefchat.basis.scorer import load_scorer
from prefchat.basis.encoders import locate_minilm, split_sentences
from prefchat.basis.minilm_fast import FastMiniLM, length_groups


@pytest.fixture(scope="module")
def basis():
    return load_basis()


@pytest.fixture(scope="module")
def texts():
    c = load_corpus()
    picked = list(c.texts[::max(len(c.texts) // 56, 1)][:56])
    assert len(picked) == 56
    # plus replies shaped like chat output: a repeated greeting, a one-word reply, a long run-on
    # sentence past the 256-token cut, and text without letters
    picked += ["Sure! Happy to help. " + picked[0], "Sure! Happy to help. " + picked[1], "Yes.",
               " ".join(["word"] * 400), "1 2 3 ... !!!"]
    return picked


@pytest.fixture(scope="module")
def scorers(basis):
    return load_scorer(basis, "cpu", fast=True), load_scorer(basis, "cpu", fast=False)


def _corr(a, b):
    return float(np.corrcoef(np.ravel(a), np.ravel(b))[0, 1])


def test_fast_phi_matches_the_fp32_torch_path(scorers, texts):
    fast, ref = scorers
    pf, pr = fast.phi(texts), ref.phi(texts)
    assert fast.encoder._fast is not None and fast.encoder._model is None  # really the fast path
    assert _corr(pf, pr) >= 0.999
    for j in range(pf.shape[1]):  # every basis direction, and tighter than the rule: bf16 rounding
        # gives > 0.99998 here, while pooling one token into the wrong sentence already gives 0.9988
        assert _corr(pf[:, j], pr[:, j]) >= 0.9999, j
    assert np.abs(pf - pr).max() < 0.05 * np.abs(pr).std()
    # the pick itself: the best of each group of 8 under a few tastes is the same
    rng = np.random.default_rng(0)
    for lam in rng.normal(size=(5, pf.shape[1])):
        for s in range(0, 56, 8):
            rf, rr = pf[s:s + 8] @ lam, pr[s:s + 8] @ lam
            if np.sort(rr)[-1] - np.sort(rr)[-2] > 0.01:  # not a near tie
                assert rf.argmax() == rr.argmax()


def test_packing_alone_is_exact_and_bf16_stays_close(scorers, texts):
    """fp32 packed sentences vs the transformers model sentence by sentence: packing, attention
    groups and pooling must be exact; bf16 products only round."""
    ref = scorers[1].encoder
    sents = [s for t in texts[:20] + texts[-5:] for s in (split_sentences(t) or [t])]
    want = ref.encode(sents)
    exact = FastMiniLM(locate_minilm(verify=False), bf16=False).encode(sents)
    np.testing.assert_allclose(exact, want, atol=2e-5)
    fast = scorers[0].encoder.encode(sents)
    assert np.abs(fast - want).max() < 0.01
    assert np.min(np.sum(fast * want, axis=1)) > 0.999  # cosine, rows are unit length


def test_tokens_match_the_transformers_tokenizer(scorers, texts):
    ref = scorers[1].encoder
    sents = [s for t in texts for s in (split_sentences(t) or [t])]
    want = [ref.tokenizer(s, truncation=True, max_length=256)["input_ids"] for s in sents]
    got = scorers[0].encoder._fast.token_ids(sents)
    assert got == want
    assert max(len(g) for g in got) == 256  # the long reply was cut where the reference cuts it


def test_duplicates_are_encoded_once_and_placed_back(scorers):
    fast = scorers[0].encoder._fast
    calls = []
    real = fast.encode_ids
    fast.encode_ids = lambda ids: calls.append(len(ids)) or real(ids)
    try:
        out = fast.encode(["Hello there.", "Goodbye now.", "Hello there."])
    finally:
        del fast.encode_ids
    assert calls == [2]
    np.testing.assert_array_equal(out[0], out[2])
    np.testing.assert_allclose(out[1], fast.encode(["Goodbye now."])[0], atol=1e-6)
    assert fast.encode([]).shape == (0, 384)


@pytest.mark.parametrize("lengths", [[5], [3, 3, 3], [2, 40, 7, 7, 8, 120, 9, 30, 31, 2], list(range(1, 90))])
def test_length_groups_cover_every_sentence_once_with_bounded_padding(lengths):
    groups = length_groups(lengths)
    assert sorted(i for g in groups for i in g) == list(range(len(lengths)))
    for g in groups:
        longest, real = max(lengths[i] for i in g), sum(lengths[i] for i in g)
        assert len(g) == 1 or len(g) * longest - real <= 0.25 * real


def test_feature_cache_always_holds_reference_features(scorers, tmp_path, monkeypatch):
    from prefchat.basis.train import cached_features

    monkeypatch.setenv("PREFCHAT_CACHE", str(tmp_path))
    fast, ref = scorers
    sample = ["A short reply. With two sentences!", "Another one, quite different in tone."]
    got = cached_features(fast.encoder, sample)
    np.testing.assert_array_equal(got, ref.encoder.features(sample))


def test_warm_loads_the_encoder(basis):
    scorer = load_scorer(basis, "cpu", fast=True)
    assert not scorer.encoder.loaded
    scorer.warm()
    assert scorer.encoder.loaded
    assert scorer.encoder._fast is not None and scorer.encoder._model is None


def test_long_inputs_run_in_bounded_passes_with_the_same_result(scorers, texts, monkeypatch):
    import prefchat.basis.minilm_fast as mf

    fast = scorers[0].encoder._fast
    sents = [s for t in texts[:12] for s in split_sentences(t)]
    whole = fast.encode(sents)
    monkeypatch.setattr(mf, "_PASS_TOKENS", 64)
    calls = []
    real = fast.encode_ids
    monkeypatch.setattr(fast, "encode_ids", lambda ids: calls.append((len(ids), sum(map(len, ids)))) or real(ids))
    # same sentences, other pass companions: equal up to where bf16 rounds a product differently
    np.testing.assert_allclose(fast.encode(sents), whole, atol=2e-3)
    assert len(calls) > 3 and all(tokens <= 64 or n == 1 for n, tokens in calls)


def test_the_fast_path_is_the_cpu_default_and_can_be_switched_off(basis, monkeypatch):
    monkeypatch.delenv("PREFCHAT_FAST_SCORER", raising=False)
    assert load_scorer(basis, "cpu").encoder.fast
    monkeypatch.setenv("PREFCHAT_FAST_SCORER", "0")
    assert not load_scorer(basis, "cpu").encoder.fast
    from prefchat.basis.encoders import MiniLMEncoder

    assert not MiniLMEncoder(device="cuda", fast=True).fast  # CPU only: a GPU keeps the fp32 model
