"""Each loader on a small file written here in that source's exact format."""

from __future__ import annotations

import json

import numpy as np
import pytest

from prefchat.errors import PrefchatError
from prefchat.data import check_usable, load_data


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def obs(data):
    """{(user, prompt, text_a, text_b): outcome} in the loader's canonical orientation."""
    out = {}
    for u, m, y in zip(data.prefs.user, data.prefs.pair, data.prefs.outcome):
        a, b = data.pairs.a[m], data.pairs.b[m]
        out[(data.users[u], data.prompts[a], data.responses[a], data.responses[b])] = y
    return out


def test_pairwise_canonical_orientation_and_overlap(tmp_path):
    f = write_jsonl(tmp_path / "p.jsonl", [
        {"user": "u1", "prompt": "P", "response_a": "x", "response_b": "y", "outcome": "a"},
        {"user": "u2", "prompt": "P", "response_a": "y", "response_b": "x", "outcome": "a"},  # same pair, flipped
        {"user": 3, "prompt": "Q", "a": "z", "b": "w", "choice": 0.5},
        {"user": "u1", "prompt": "Q", "a": "z", "b": "w", "outcome": 0},
    ])
    d = load_data(f"pairwise:{f}")
    assert d.users == ["u1", "u2", "3"]
    assert d.prefs.n_pairs == 2 and len(d.prefs) == 4
    o = obs(d)
    assert o[("u1", "P", "x", "y")] == 1.0
    assert o[("u2", "P", "x", "y")] == 0.0  # u2 preferred y over x
    assert o[("3", "Q", "z", "w")] == 0.5 and o[("u1", "Q", "z", "w")] == 0.0
    assert d.density == pytest.approx(4 / 6)
    assert check_usable(d) is not None


def test_psoups(tmp_path):
    f = write_jsonl(tmp_path / "s.jsonl", [
        {"prompt": "Tell me about tea.", "chosen": "Short.", "rejected": "Long long long.", "uid": 1},
        {"prompt": "Tell me about tea.", "chosen": "Long long long.", "rejected": "Short.", "uid": 2},
    ])
    d = load_data(f"psoups:{f}")
    o = obs(d)
    assert d.prefs.n_pairs == 1 and d.users == ["1", "2"]
    assert sorted(o.values()) == [0.0, 1.0]
    assert o[("1", "Tell me about tea.", "Short.", "Long long long.")] == 1.0


def test_tldr(tmp_path):
    info = {"id": "t3_x", "post": "My cat sits on my keyboard.", "title": "Cat help", "subreddit": "cats"}
    f = write_jsonl(tmp_path / "c.json", [
        {"info": info, "split": "train", "summaries": [{"text": " cat on keys", "policy": "sup"},
                                                      {"text": "keyboard cat", "policy": "ref"}],
         "choice": 1, "worker": "w7", "batch": "b1", "extra": {}},
        {"info": info, "split": "train", "summaries": [{"text": "keyboard cat"}, {"text": "cat on keys"}],
         "choice": 1, "worker": "w9"},
    ])
    d = load_data(f"tldr:{f}")
    assert d.users == ["w7", "w9"]
    assert d.prompts[0].startswith("SUBREDDIT: r/cats\nTITLE: Cat help\nPOST: My cat") and d.prompts[0].endswith("TL;DR:")
    o = obs(d)
    p = d.prompts[0]
    assert o[("w7", p, "cat on keys", "keyboard cat")] == 0.0  # w7 chose summary 1 = keyboard cat
    assert o[("w9", p, "cat on keys", "keyboard cat")] == 1.0  # w9 chose summary 1 = cat on keys
    bad = write_jsonl(tmp_path / "bad.json", [{"info": info, "summaries": [{"text": "a"}], "choice": 0, "worker": "w"}])
    with pytest.raises(PrefchatError, match=r"bad.json:1: 'summaries'"):
        load_data(f"tldr:{bad}")


def prism_conv(user, prompt, scores, chosen=None, turn=0):
    hist = [{"turn": turn, "role": "user", "content": prompt, "model_provider": None, "model_name": None,
             "score": None, "if_chosen": None, "within_turn_id": None}]
    for i, s in enumerate(scores):
        hist.append({"turn": turn, "role": "model", "content": f"resp {i} to {prompt}", "model_provider": "x",
                     "model_name": f"m{i}", "score": s, "if_chosen": (i == chosen) if chosen is not None else s == max(scores),
                     "within_turn_id": i})
    return {"conversation_id": f"c-{user}-{prompt}", "user_id": user, "conversation_type": "unguided",
            "opening_prompt": prompt, "conversation_history": hist}


def test_prism_within_turn_pairs(tmp_path):
    f = write_jsonl(tmp_path / "conversations.jsonl", [
        prism_conv("user1", "hi", [80, 40, 80, 10]),
        prism_conv("user2", "hi", [20, 90]),
        prism_conv("user3", "yo", [None, None, None], chosen=2),
    ])
    d = load_data(f"prism:{f}")
    o = obs(d)
    # user1: C(4,2) = 6 pairs; user2: 1 pair (the same two texts as user1's first pair); user3: 2 pairs
    # (chosen vs each unchosen; the two unchosen ones are skipped).
    assert len(d.prefs) == 9 and d.prefs.n_pairs == 8
    assert o[("user1", "hi", "resp 0 to hi", "resp 2 to hi")] == 0.5
    assert o[("user1", "hi", "resp 0 to hi", "resp 1 to hi")] == 1.0
    assert o[("user2", "hi", "resp 0 to hi", "resp 1 to hi")] == 0.0
    assert o[("user3", "yo", "resp 0 to yo", "resp 2 to yo")] == 0.0
    assert ("user3", "yo", "resp 0 to yo", "resp 1 to yo") not in o
    assert d.extra["skipped"] == 1
    assert d.prefs.density == pytest.approx(9 / 24)


def test_corpus_with_simulated_users(tmp_path):
    rows = []
    for p in range(3):
        rows.append({"id": f"p{p}", "prompt": f"prompt {p}?", "responses": [
            {"id": f"p{p}-r{i}", "text": f"answer {i} to {p}",
             "traits": {"length": [1, -1, 0][i], "formality": [0, 1, -1][i], "humour": 0, "elicitation": 0,
                        "politeness": 0, "enthusiasm": 0, "confidence": 0}} for i in range(3)]})
    f = write_jsonl(tmp_path / "corpus.jsonl", rows)
    d = load_data(f"corpus:{f}", seed=1)
    assert d.prefs.n_users == 84 and d.prefs.n_pairs == 9 and d.density == 1.0
    assert set(d.response_ids) == {f"p{p}-r{i}" for p in range(3) for i in range(3)}
    # A user who wants length+ / formality+ : answer 0 (length +1) beats answer 2 (length 0, formality -1).
    u = d.users.index("length+/formality+")
    r0, r2 = d.response_ids.index("p0-r0"), d.response_ids.index("p0-r2")
    m = int(np.flatnonzero((d.pairs.a == min(r0, r2)) & (d.pairs.b == max(r0, r2)))[0])
    y = d.prefs.outcome[(d.prefs.user == u) & (d.prefs.pair == m)][0]
    assert y == (1.0 if r0 < r2 else 0.0)
    assert d.traits[r0, 0] == 1


@pytest.mark.parametrize("rows, match", [
    ([{"user": "u", "prompt": "P", "a": "x", "b": "y", "outcome": "a"},
      {"user": "u", "prompt": "P", "a": "x", "b": "z", "outcome": "b"}], "only one user"),
    ([{"user": "u", "prompt": "P", "a": "x", "b": "y", "outcome": "a"},
      {"user": "u", "prompt": "P", "a": "x", "b": "z", "outcome": "b"},
      {"user": "v", "prompt": "Q", "a": "x", "b": "y", "outcome": "a"},
      {"user": "v", "prompt": "Q", "a": "x", "b": "z", "outcome": "a"}], "no overlap between users"),
    ([{"user": "u", "prompt": "P", "a": "x", "b": "y", "outcome": "tie"},
      {"user": "v", "prompt": "P", "a": "x", "b": "y", "outcome": 0.5}], "every comparison is a tie"),
    ([], "no usable comparisons"),
])
def test_unusable_inputs_are_refused_with_reason(tmp_path, rows, match):
    f = write_jsonl(tmp_path / "p.jsonl", rows)
    with pytest.raises(PrefchatError, match=match):
        check_usable(load_data(f"pairwise:{f}"))


def test_no_overlap_allowed_without_svd_init(tmp_path):
    f = write_jsonl(tmp_path / "p.jsonl", [
        {"user": "u", "prompt": "P", "a": "x", "b": "y", "outcome": "a"},
        {"user": "u", "prompt": "P", "a": "x", "b": "z", "outcome": "b"},
        {"user": "v", "prompt": "Q", "a": "x", "b": "y", "outcome": "a"},
        {"user": "v", "prompt": "Q", "a": "x", "b": "z", "outcome": "a"}])
    warn = check_usable(load_data(f"pairwise:{f}"), require_overlap=False)
    assert any("no overlap" in w for w in warn)


@pytest.mark.parametrize("spec, content, match", [
    ("nope:x.jsonl", None, "unknown format 'nope'"),
    ("pairwise", None, "expected FORMAT:FILE"),
    ("pairwise:{d}/missing.jsonl", None, "no such file"),
    ("pairwise:{d}/f.jsonl", "{not json\n", r"f.jsonl:1: not JSON"),
    ("pairwise:{d}/f.jsonl", '[1, 2]\n', "expected a JSON object"),
    ("pairwise:{d}/f.jsonl", '{"user": "u", "prompt": "P", "a": "x", "b": "y", "outcome": "maybe"}\n', "outcome must be"),
    ("psoups:{d}/f.jsonl", '{"prompt": "P", "chosen": "x", "uid": 1}\n', "missing string field 'rejected'"),
    ("prism:{d}/f.jsonl", '{"user_id": "u", "conversation_history": [{"turn": "0"}]}\n', "integer 'turn'"),
    ("pairwise:{d}/f.jsonl", b"\xff\xfe\n", "not UTF-8"),
])
def test_bad_input_is_one_clear_error(tmp_path, spec, content, match):
    if content is not None:
        p = tmp_path / "f.jsonl"
        p.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(PrefchatError, match=match):
        load_data(spec.format(d=tmp_path))
