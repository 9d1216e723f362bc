"""Two CPU processes (torchrun, gloo, loopback) train the same basis as one process does."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

from .helpers import write_pairwise, write_tiny_qwen

pytestmark = pytest.mark.slow  # DDP training in subprocesses

pytest.importorskip("transformers")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tiny_corpus(path):
    rows = [{"id": f"p{p}", "prompt": f"Question {p}?", "responses": [
        {"id": f"p{p}-r{i}", "text": "tea " * (1 + 2 * i) + ("!" if i % 2 else "."),
         "traits": {"length": [-1, 0, 1][i], "formality": 0, "humour": 0, "elicitation": 0, "politeness": 0,
                    "enthusiasm": [0, 1, 0][i], "confidence": 0}} for i in range(3)]} for p in range(2)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def run_train(cmd, cwd, env):
    r = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=240)
    assert r.returncode == 0, r.stderr[-3000:]
    return r


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    d = tmp_path_factory.mktemp("ddp")
    model = write_tiny_qwen(d / "tiny")
    data = write_pairwise(d / "prefs.jsonl", n_users=4, n_prompts=4, n_resp=3)
    corpus = tiny_corpus(d / "corpus.jsonl")
    # 4 users x 12 pairs = 48 observations; batch 16 -> 3 steps per epoch; 2 epochs per phase.
    # --accumulate 2 so the DDP path also exercises no_sync micro-batches.
    args = ["train", "--data", f"pairwise:{data}", "--backbone", str(model), "--mode", "full", "--dims", "3",
            "--epochs", "2", "--batch-size", "16", "--accumulate", "2", "--lr", "0.01", "--backbone-lr", "0.001",
            "--max-length", "64", "--device", "cpu", "--pool-corpus", str(corpus)]
    env = dict(os.environ, OMP_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false", HF_HUB_OFFLINE="1",
               PYTHONPATH=os.getcwd())
    single = run_train([sys.executable, "-m", "prefchat", *args, "--out", str(d / "single")], os.getcwd(), env)
    port = free_port()
    ddp = run_train([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--nnodes", "1",
                     "--master_addr", "127.0.0.1", "--master_port", str(port), "-m", "prefchat", *args,
                     "--out", str(d / "ddp")], os.getcwd(), env)
    return d, single, ddp


def test_ddp_matches_single_process(trained):
    d, _, ddp = trained
    s_meta = json.loads((d / "single" / "basis.json").read_text())
    p_meta = json.loads((d / "ddp" / "basis.json").read_text())
    assert s_meta["training"]["world_size"] == 1 and p_meta["training"]["world_size"] == 2
    assert "2 process(es)" in ddp.stdout
    lam_s = np.load(d / "single" / "train_user_vectors.npy")
    lam_p = np.load(d / "ddp" / "train_user_vectors.npy")
    pool_s = np.load(d / "single" / "pool.npz")["diffs"]
    pool_p = np.load(d / "ddp" / "pool.npz")["diffs"]
    # Training moved the model: the trained pool differs from the one an untrained head gives...
    assert np.abs(pool_s).max() > 1e-3
    # ...and the two runs agree up to float reduction order.
    np.testing.assert_allclose(lam_p, lam_s, rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(pool_p, pool_s, rtol=1e-3, atol=1e-4)


def test_trained_basis_loads_and_scores_like_training(trained):
    from prefchat.basis import load_basis

    d, _, _ = trained
    b = load_basis(d / "ddp")
    assert b.meta["encoder"]["kind"] == "causal-lm" and b.dims == 3
    pool = b.pool()
    scorer = b.scorer(device="cpu")
    # Recompute the first pool pair's phi difference through the public scorer (fresh process state:
    # weights read back from backbone/ + head.safetensors).
    prompts = {f"p{p}": f"Question {p}?" for p in range(2)}
    texts = {f"p{p}-r{i}": "tea " * (1 + 2 * i) + ("!" if i % 2 else ".") for p in range(2) for i in range(3)}
    a, bb, pid = str(pool.a_ids[0]), str(pool.b_ids[0]), str(pool.prompt_ids[0])
    got = scorer.pair_diffs([prompts[pid]], [texts[a]], [texts[bb]])[0]
    np.testing.assert_allclose(got, pool.diffs[0], rtol=1e-4, atol=1e-5)
