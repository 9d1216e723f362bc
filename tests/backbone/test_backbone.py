"""Backbone basis: training modes, the saved directory scoring as training did, clear errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from prefchat.errors import PrefchatError

from .helpers import write_pairwise, write_tiny_qwen
from .test_distributed import tiny_corpus


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("bb")
    return d, write_tiny_qwen(d / "tiny"), write_pairwise(d / "prefs.jsonl", n_users=4, n_prompts=4, n_resp=3), \
        tiny_corpus(d / "corpus.jsonl")


@pytest.fixture(scope="module")
def trained(files):
    """trained(mode) -> (basis dir, meta): trained on first request and kept for the module, so a test
    that needs a trained basis gets one whatever order the tests run in."""
    from prefchat.basis.train_backbone import train_backbone_basis
    from prefchat.data import load_data

    d, model, prefs, corpus = files
    done = {}

    def get(mode):
        if mode not in done:
            out = d / f"basis-{mode}"
            meta = train_backbone_basis(load_data(f"pairwise:{prefs}"), out, backbone=str(model), mode=mode,
                                        dims=3, epochs=3, batch_size=16, accumulate=2, lr=0.01, max_length=64,
                                        device="cpu", pool_corpus=corpus)
            done[mode] = out, meta
        return done[mode]

    return get


@pytest.mark.slow  # trains a backbone basis
@pytest.mark.parametrize("mode", ["lora", "frozen"])
def test_mode_trains_and_basis_dir_scores_identically(trained, mode):
    from prefchat.basis import load_basis

    out, meta = trained(mode)
    assert meta["training"]["mode"] == mode and meta["encoder"]["kind"] == "causal-lm"
    assert meta["training"]["density"] == 1.0
    assert (out / "lora.safetensors").exists() == (mode == "lora")
    b = load_basis(out)
    assert b.fingerprint == meta["fingerprint"] and b.prior[0].shape == (3,)
    scorer = b.scorer(device="cpu")
    # Scores through the saved directory (LoRA merged into the base) equal the pool written from the
    # in-memory trained model.
    pool = b.pool()
    texts = {f"p{p}-r{i}": "tea " * (1 + 2 * i) + ("!" if i % 2 else ".") for p in range(2) for i in range(3)}
    prompts = [f"Question {str(p)[1:]}?" for p in pool.prompt_ids]
    got = scorer.pair_diffs(prompts, [texts[str(a)] for a in pool.a_ids], [texts[str(x)] for x in pool.b_ids])
    np.testing.assert_allclose(got, pool.diffs, rtol=1e-4, atol=1e-5)
    # phi does not depend on the batch's padding (position ids from the attention mask).
    alone = scorer.phi(["tea!"], ["Question 0?"])
    padded = scorer.phi(["tea!", "tea " * 30 + "."], ["Question 0?"] * 2)[:1]
    np.testing.assert_allclose(alone, padded, rtol=1e-4, atol=1e-5)
    if mode == "lora":
        # Training moved the adapters: the merged deltas are not all zero.
        from safetensors.numpy import load_file

        assert max(np.abs(v).max() for v in load_file(str(out / "lora.safetensors")).values()) > 0


@pytest.mark.slow  # trains a backbone basis
def test_capture_env_picks_the_scoring_path(trained, monkeypatch):
    """$PREFCHAT_BACKBONE_CAPTURE turns on the bucketed/captured scorer (eager buckets on a CPU) with
    the plain scorer's scores; a wrong value is one clear error."""
    from prefchat.basis import load_basis

    b = load_basis(trained("frozen")[0])
    texts, prompts = ["tea!", "tea " * 30 + ".", "cat"], ["Question 0?", "Question 1?", "Question 0?"]
    monkeypatch.delenv("PREFCHAT_BACKBONE_CAPTURE", raising=False)
    plain = b.scorer(device="cpu")
    monkeypatch.setenv("PREFCHAT_BACKBONE_CAPTURE", "graph")
    cap = b.scorer(device="cpu")
    assert plain.captured is None and cap.captured is not None and cap.captured.path == "eager"
    np.testing.assert_allclose(cap.phi(texts, prompts), plain.phi(texts, prompts), rtol=1e-5, atol=1e-6)
    monkeypatch.setenv("PREFCHAT_BACKBONE_CAPTURE", "cudagraphs")
    with pytest.raises(PrefchatError, match="PREFCHAT_BACKBONE_CAPTURE='cudagraphs': use graph, compile or off"):
        b.scorer(device="cpu")


@pytest.mark.slow  # trains a backbone basis
def test_micro_batching_matches_one_batch(files):
    """accumulate=k gives the same training as one batch (the engine weights each micro-batch)."""
    from prefchat.data import load_data
    from prefchat.basis.train_backbone import train_backbone_basis

    d, model, prefs, _ = files
    data = load_data(f"pairwise:{prefs}")
    kw = dict(backbone=str(model), mode="full", dims=3, epochs=2, batch_size=16, lr=0.01, backbone_lr=1e-3,
              max_length=64, device="cpu")
    one = train_backbone_basis(data, None, accumulate=1, **kw)["_user_vectors"]
    four = train_backbone_basis(data, None, accumulate=4, **kw)["_user_vectors"]
    np.testing.assert_allclose(four, one, rtol=1e-3, atol=1e-4)


def test_offline_backbone_is_one_clear_error(monkeypatch):
    from prefchat.reward.nets import load_backbone

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(PrefchatError, match="cannot load backbone 'nobody/no-such-model'.*local model directory"):
        load_backbone("nobody/no-such-model")


def cli(*args):
    env = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONPATH=os.getcwd())
    return subprocess.run([sys.executable, "-m", "prefchat", *args], capture_output=True, text=True, env=env,
                          timeout=120)


def test_cli_refuses_single_user_and_reports_density(files, tmp_path):
    d, model, prefs, _ = files
    one = tmp_path / "one.jsonl"
    one.write_text("".join(json.dumps({"user": "solo", "prompt": "P", "a": f"x{i}", "b": f"y{i}", "outcome": "a"}) + "\n"
                           for i in range(5)))
    r = cli("train", "--data", f"pairwise:{one}", "--backbone", str(model), "--out", str(tmp_path / "o"))
    assert r.returncode == 2 and "only one user" in r.stderr and "Traceback" not in r.stderr
    r = cli("train", "--data", f"pairwise:{prefs}", "--backbone", str(model), "--mode", "bogus", "--out", str(tmp_path / "o"))
    assert r.returncode == 2 and "--mode must be one of" in r.stderr
    r = cli("train", "--data", f"tldr:{prefs}", "--out", str(tmp_path / "o"))
    assert r.returncode == 2 and "prefs.jsonl:1:" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.slow  # trains a backbone basis
def test_eval_runs_on_a_backbone_basis(files, trained):
    """A trained backbone basis works in `prefchat eval` like the default one (it reads prompts too)."""
    corpus = files[3]
    basis, _ = trained("frozen")
    r = subprocess.run([sys.executable, "-m", "prefchat", "eval", "--corpus", str(corpus), "--basis", str(basis),
                        "--answers", "1,2", "--json"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    out = json.loads(r.stdout)
    assert out["answers"] == [1, 2] and set(out["auc"]["active"]) == {"1", "2"}
    assert out["users"] == 84
