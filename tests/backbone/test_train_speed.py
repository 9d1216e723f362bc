"""The training speed paths change nothing but speed: the length-bucketed training forward
(BackboneReward.bucket_tokens) gives the one-batch loss and gradients, and the fused Adam/AdamW
update trains to the same user vectors. A real tiny Qwen2 from a config, with LoRA adapters, on the
CPU (the speed itself is measured by `prefchat bench basis`, see BENCHMARKS.md)."""

from __future__ import annotations

import numpy as np
import pytest

from .helpers import write_pairwise, write_tiny_qwen

pytest.importorskip("transformers")
pytest.importorskip("peft")


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    return write_tiny_qwen(tmp_path_factory.mktemp("speed") / "tiny")


def padded_batch(lengths, pad_id, vocab=300, seed=0):
    """A left-padded batch of random token rows of these lengths, as TokenizedResponses builds it."""
    from prefchat.basis.backbone_capture import pad_rows

    rng = np.random.default_rng(seed)
    seqs = [rng.integers(3, vocab, size=n).tolist() for n in lengths]
    ids, mask = pad_rows(seqs, len(seqs), max(lengths), pad_id)
    return {"input_ids": ids, "attention_mask": mask}


def loss_and_grads(model, batch, lam, outcome):
    """A Bradley-Terry step as the engine takes it: rows 0..n/2 against n/2..n, user vectors lam."""
    import torch

    model.zero_grad(set_to_none=True)
    phi = model(batch)
    half = phi.shape[0] // 2
    loss = torch.nn.functional.binary_cross_entropy_with_logits((lam * (phi[:half] - phi[half:])).sum(1), outcome)
    loss.backward()
    grads = {n: p.grad.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
    return float(loss.detach()), grads


def test_length_buckets_give_the_same_loss_and_gradients(tiny_dir):
    import torch

    from prefchat.reward.nets import BackboneReward, load_backbone

    tok, base = load_backbone(str(tiny_dir))
    torch.manual_seed(0)
    model = BackboneReward(base, 3, mode="lora", lora_r=4).train()
    with torch.no_grad():  # LoRA B starts at zero; give the adapters a real share of the gradient path
        for n, p in model.named_parameters():
            if "lora_B" in n:
                p.normal_(0.0, 0.1)
    lengths = [5, 48, 9, 30, 2, 17, 40, 12, 33, 7, 25, 48]
    batch = padded_batch(lengths, tok.pad_token_id)
    lam = torch.randn(len(lengths) // 2, 3)
    outcome = torch.tensor([1.0, 0.0, 1.0, 0.5, 0.0, 1.0])

    one_loss, one = loss_and_grads(model, batch, lam, outcome)
    calls = []
    hidden = model.hidden
    model.hidden = lambda b: (calls.append(tuple(b["input_ids"].shape)), hidden(b))[1]
    model.bucket_tokens = 100  # 12 rows x 48 = 576 padded tokens -> several runs of <= 100
    bucket_loss, bucketed = loss_and_grads(model, batch, lam, outcome)
    del model.hidden

    assert len(calls) >= 4 and all(r * w <= 100 or r == 1 for r, w in calls)
    assert sum(r * w for r, w in calls) < len(lengths) * max(lengths)  # less padding than one batch
    assert bucket_loss == pytest.approx(one_loss, rel=1e-5)
    assert set(bucketed) == set(one) and any("lora_A" in n for n in one)
    for name in one:
        assert one[name].abs().max() > 0, name  # every compared gradient carries signal
        torch.testing.assert_close(bucketed[name], one[name], rtol=1e-4, atol=1e-6, msg=name)


def test_fused_update_and_length_buckets_train_the_same_basis(tiny_dir, tmp_path, monkeypatch):
    """Three short trainings of the tiny model (~5 s)."""
    import torch

    from prefchat.basis.train_backbone import train_backbone_basis
    from prefchat.data import load_data
    from prefchat.reward.nets import BackboneReward

    data = load_data(f"pairwise:{write_pairwise(tmp_path / 'prefs.jsonl', n_users=4, n_prompts=4, n_resp=3)}")
    kw = dict(backbone=str(tiny_dir), mode="lora", dims=3, epochs=2, batch_size=16, lr=0.01, max_length=64,
              device="cpu")
    plain = train_backbone_basis(data, None, fused=False, **kw)["_user_vectors"]
    seen = []
    real = torch.optim.AdamW

    class Spy(real):
        def __init__(self, *a, **k):
            seen.append(k.get("fused"))
            super().__init__(*a, **k)

    torch.optim.AdamW = Spy
    try:
        fused = train_backbone_basis(data, None, fused=True, **kw)["_user_vectors"]
    finally:
        torch.optim.AdamW = real
    assert seen == [True]  # the fused update really ran (torch >= 2.4 has it on the CPU too)
    runs = []
    bucketed_forward = BackboneReward._bucketed
    monkeypatch.setattr(BackboneReward, "_bucketed", lambda self, b: (runs.append(1), bucketed_forward(self, b))[1])
    bucketed = train_backbone_basis(data, None, bucket_tokens=96, **kw)["_user_vectors"]
    assert runs  # the trainer's forward really went through the length buckets
    assert np.abs(plain).max() > 0.1
    np.testing.assert_allclose(fused, plain, rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(bucketed, plain, rtol=1e-3, atol=1e-4)


@pytest.mark.slow  # trains a backbone basis through the CLI in a subprocess
def test_train_cli_takes_bucket_tokens(tiny_dir, tmp_path):
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    from .test_distributed import tiny_corpus

    prefs = write_pairwise(tmp_path / "prefs.jsonl", n_users=4, n_prompts=4, n_resp=3)
    root = Path(__file__).resolve().parents[2]
    env = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONPATH=str(root))
    r = subprocess.run([sys.executable, "-m", "prefchat", "train", "--data", f"pairwise:{prefs}", "--backbone",
                        str(tiny_dir), "--mode", "frozen", "--dims", "3", "--epochs", "1", "--device", "cpu",
                        "--max-length", "64", "--bucket-tokens", "96", "--pool-corpus",
                        str(tiny_corpus(tmp_path / "corpus.jsonl")), "--out", str(tmp_path / "basis")],
                       capture_output=True, text=True, env=env, cwd=root, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    meta = json.loads((tmp_path / "basis" / "basis.json").read_text())
    assert meta["training"]["bucket_tokens"] == 96
    r = subprocess.run([sys.executable, "-m", "prefchat", "train", "--data", f"pairwise:{prefs}", "--backbone",
                        str(tiny_dir), "--bucket-tokens", "-5", "--out", str(tmp_path / "b2")],
                       capture_output=True, text=True, env=env, cwd=root, timeout=120)
    assert r.returncode == 2 and "--bucket-tokens" in r.stderr and "Traceback" not in r.stderr
