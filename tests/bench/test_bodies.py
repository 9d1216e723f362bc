"""The benchmark bodies called as plain functions, as `prefchat bench` calls them: each returns the dict
its command prints with --json, and its report renders that dict. Real components: a loopback server
that floods the real openai backend, the shipped basis, corpus and example profile. Figures are not
asserted (benchmarks, not timed tests); what follows from the arguments is."""

from __future__ import annotations

import re

import pytest
from rich.console import Console

from prefchat.bench import basis, engine, flood, guard, startup
from prefchat.errors import PrefchatError
from prefchat.llm.openai_stream import reply_bounds


def test_flood_cuts_every_candidate_at_its_bound():
    out = flood.measure(size_mb=1, counts=[1, 3], max_tokens=16, chunk_chars=16)
    bound = reply_bounds(16)[0]
    assert out["bound_chars"] == bound and out["server_mb_per_request"] == 1
    assert [r["n"] for r in out["runs"]] == [1, 3]
    for r in out["runs"]:
        # the server sends 1 MB per request; each candidate keeps at most its bound, and says it was cut
        assert len(r["chars_kept"]) == r["n"] and all(0 < c <= bound for c in r["chars_kept"]), r
        assert r["finish"] == ["length"] and r["seconds"] > 0
    lines = flood.report(out).splitlines()
    assert lines[0].startswith("N=1: ") and lines[1].startswith("N=3: ") and len(lines) == 3
    assert f"bound {bound} chars" in lines[2] and "server: 1 MB per request" in lines[2]


def test_guard_times_a_turn_of_the_corpus_longest_replies():
    out = guard.measure(n=3, repeats=2)
    assert set(out) == {"turn", "machine"}  # without --calibrate: no encoder, no corpus numbers
    t = out["turn"]
    assert t["n"] == 3 and t["chars"] > 1000  # the longest replies of the shipped corpus
    for mode in ("cold", "warm", "cold_cpu", "warm_cpu"):
        assert set(t[mode]) == {"guard", "instructions", "why", "total"} and t[mode]["total"] > 0
    lines = guard.report(out, repeats=2).splitlines()
    assert lines[0] == f"per turn, 3 candidates of ~{t['chars']} characters (median of 2):"
    assert len(lines) == 6 and all("total" in line for line in lines[2:])


@pytest.mark.parametrize("n,repeats", [(0, 5), (65, 5), (4, 0)])
def test_guard_rejects_sizes_it_cannot_measure(n, repeats):
    with pytest.raises(PrefchatError, match="-n must be 1..64"):
        guard.measure(n=n, repeats=repeats)


def test_basis_json_is_the_two_figures_for_minilm_and_everything_for_a_backbone():
    minilm = {"cpu_8x200_ms": 90.0, "phi_corr_vs_fp32": 0.99999, "detail": {"runs": 2}}
    assert basis.as_json(minilm) == {"cpu_8x200_ms": 90.0, "phi_corr_vs_fp32": 0.99999}
    backbone = {"backbone": "m", "train": {}, "machine": "x"}
    assert basis.as_json(backbone) == backbone


def test_chat_json_leaves_out_the_per_run_paint_times_and_the_report_shows_them():
    out = {"first_paint_ms": 750.0, "machine": "x86_64", "first_paint_runs_s": [0.7, 0.75, 0.8]}
    assert startup.chat_json(out) == {"first_paint_ms": 750.0, "machine": "x86_64"}
    text = startup.report_chat(out)
    assert "median of 3: 750 ms (runs: 700, 750, 800 ms;" in text and "first reply" not in text
    out.update(first_rerank_ms=40.0, first_rerank_runs_ms=[40.0, 41.0], first_scoring_ms=30.0,
               startup_to_ready_ms=2000.0)
    assert "median of 2 fresh chats: 40 ms (runs [40.0, 41.0] ms; scoring 30 ms" in startup.report_chat(out)


def test_engine_report_has_one_table_row_per_budget():
    out = {"answers": [5, 10], "auc": {"active": {5: 0.7, 10: 0.8}, "random": {5: 0.6, 10: 0.65}, "oracle": 0.9},
           "principal_angles_deg": [3.0], "validation_auc": 0.85, "spectrum": [9.0, 1.0], "elbow": 1,
           "train_seconds": 2.0, "step_ms_median": 0.5, "criterion": "norm", "machine": "x86_64"}
    parts = engine.report(out, seed=3, users=5, steps=7)
    assert parts[0].title == "prefchat bench engine (synthetic, seed 3, 5 new users, rule norm)"
    con = Console(record=True, width=120)
    for part in parts:
        con.print(part)
    text = con.export_text()
    rows = re.findall(r"│\s+(\d+) │\s+([\d.]+) │\s+([\d.]+) │\s+([\d.]+) │", text)
    assert rows == [("5", "0.700", "0.600", "0.900"), ("10", "0.800", "0.650", "0.900")]
    assert "median of 7: 0.500 ms" in text and "(true rank 4)" in text


def test_token_spans_cover_exactly_each_sentence():
    """The span route pools each sentence's own tokens out of one pass over the whole response: the
    tokens it picks must decode to that sentence, and the special tokens belong to no sentence."""
    from prefchat.basis.encoders import MiniLMEncoder
    from prefchat.bench.spans import sentence_token_spans

    enc = MiniLMEncoder(device="cpu", fast=True)
    enc.encode(["load"])
    tok = enc._fast.tokenizer
    text = "Keep basil in water. It hates the fridge!\nChange the water daily."
    e = tok.encode(text, add_special_tokens=True)
    spans = sentence_token_spans(text, e.offsets)
    assert [tok.decode([e.ids[j] for j in s]) for s in spans] == [
        "keep basil in water.", "it hates the fridge!", "change the water daily."]
    assert 0 not in sum(spans, []) and len(e.ids) - 1 not in sum(spans, [])  # [CLS], [SEP]


def test_span_route_reports_its_speed_and_how_far_phi_moves():
    from prefchat.bench import spans

    out = spans.measure(runs=1)
    assert out["sentences_ms"] > 0 and out["spans_ms"] > 0
    assert out["speedup"] == pytest.approx(out["sentences_ms"] / out["spans_ms"])
    assert -1 <= out["sentence_cosine_min"] <= out["sentence_cosine_median"] <= 1
    assert len(out["phi_corr_per_dim"]) == 8 and out["phi_corr_min_per_dim"] == min(out["phi_corr_per_dim"])
    assert "token spans" in spans.report(out, "test machine")
