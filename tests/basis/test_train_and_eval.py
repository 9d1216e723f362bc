"""`prefchat train` and `prefchat eval` end to end on small corpus files written here."""

import json
import subprocess
import sys

import numpy as np
import pytest

from prefchat.data import load_corpus

pytestmark = pytest.mark.slow  # trains bases and runs `prefchat eval`


@pytest.fixture(scope="module")
def small_corpus(tmp_path_factory):
    """The first 24 prompts of the shipped corpus as a separate file (no stored split beside it)."""
    src = load_corpus().path.read_text(encoding="utf-8").splitlines()
    d = tmp_path_factory.mktemp("corpus")
    f = d / "small.jsonl"
    f.write_text("\n".join(src[:24]) + "\n", encoding="utf-8")
    return f


@pytest.fixture(scope="module")
def trained(small_corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("basis") / "tiny-v1"
    r = subprocess.run([sys.executable, "-m", "prefchat", "train", "--corpus", str(small_corpus), "--out", str(out),
                        "--dims", "4", "--epochs", "40"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    return out


def test_train_writes_a_complete_basis(trained):
    from prefchat.basis import load_basis

    b = load_basis(trained)
    assert b.dims == 4 and b.name == "tiny-v1"
    assert b.meta["training"]["corpus_sha256"]
    assert (trained / "head.safetensors").is_file() and (trained / "pool.npz").is_file()
    assert b.pool().diffs.shape == (24 * 15, 4)


def test_eval_json_on_a_corpus_the_basis_never_saw(trained, small_corpus, tmp_path):
    lines = load_corpus().path.read_text(encoding="utf-8").splitlines()
    other = tmp_path / "other.jsonl"
    other.write_text("\n".join(lines[100:120]) + "\n", encoding="utf-8")
    r = subprocess.run([sys.executable, "-m", "prefchat", "eval", "--corpus", str(other), "--basis", str(trained),
                        "--answers", "2,5", "--json"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    out = json.loads(r.stdout)  # exactly one JSON object, nothing else on stdout
    assert out["answers"] == [2, 5]
    assert set(out["auc"]) >= {"active", "random", "per_user", "global", "oracle"}
    assert set(out["auc"]["active"]) == {"2", "5"}
    assert out["users"] == 84 and out["test_pairs"] == 10 * 15
    # After 5 answers the personal pick beats the one-size-fits-all pick more often than it loses to it
    # (judged by each simulated user's true reward); 0.5 would mean personalising gained nothing.
    assert out["winrate_vs_global"] > 0.55, out["winrate_vs_global"]
    assert out["auc"]["active"]["5"] > out["auc"]["global"], out["auc"]
    assert out["auc"]["oracle"] > 0.95  # the simulated users' own reward ranks their answers
    # progress for every stage on stderr (minutes on 2 cores), and no third-party loading bar
    # ("encoding responses" shows only when the feature cache misses, so it is not required here)
    for label in ("new users, active questions", "new users, random questions", "per-user baseline",
                  "global baseline: fit", "simulated win rate"):
        assert label in r.stderr, r.stderr[-2000:]
    assert "Loading weights" not in r.stderr
    # reading cost: AUC after a budget of words read, for each selection rule
    assert set(out["auc_at_words"]) == {"active", "cost-aware", "random"}
    assert all(set(v) == {"500", "1000", "1500", "2500", "4000"} for v in out["auc_at_words"].values())
    mw = out["median_words_at_answers"]
    assert mw["cost-aware"]["5"] < mw["active"]["5"]  # it asks the cheaper questions
    assert out["default_quiz"]["median_words"] <= out["default_quiz"]["words_budget"]


def test_eval_rejects_bad_budgets(trained):
    r = subprocess.run([sys.executable, "-m", "prefchat", "eval", "--basis", str(trained), "--answers", "x"],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "--answers" in r.stderr and "Traceback" not in r.stderr


def test_prefchat_train_reproduces_the_shipped_basis(tmp_path):
    """`prefchat train --out models/style-v1` rebuilds the shipped basis. Not bit for bit: the encoder's
    features move in the 7th digit with batch composition (padding), and training amplifies that a
    little, so the fingerprint differs. The basis itself must be the same to within that noise."""
    from prefchat.basis import load_basis

    out = tmp_path / "style-v1"
    r = subprocess.run([sys.executable, "-m", "prefchat", "train", "--out", str(out)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    shipped, fresh = load_basis(), load_basis(out)
    assert fresh.meta["training"]["corpus_sha256"] == shipped.meta["training"]["corpus_sha256"]
    assert abs(fresh.meta["metrics"]["val_auc"] - shipped.meta["metrics"]["val_auc"]) < 0.002
    a, b = fresh.pool().diffs, shipped.pool().diffs
    assert np.corrcoef(a.ravel(), b.ravel())[0, 1] > 0.999
    for x, y in zip(fresh.axes, shipped.axes):
        assert x.trait == y.trait and abs(x.captured - y.captured) < 0.01
