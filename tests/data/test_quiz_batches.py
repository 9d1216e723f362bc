"""The quiz-batch experiment in docs/ (issue 14): its corpus builder and the reading-bound script, so
the figures BENCHMARKS.md quotes from them can be rerun from this checkout."""

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np

from prefchat.data import load_corpus
from prefchat.data.splits import load_split

ROOT = Path(__file__).resolve().parents[2]
QUIZ = ROOT / "docs" / "corpus" / "quiz"


def _merge_module():
    spec = importlib.util.spec_from_file_location("quiz_merge", QUIZ / "merge.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_merged_corpus_keeps_the_shipped_test_side(tmp_path):
    _merge_module().main(tmp_path, reading=False)
    merged = load_corpus(tmp_path / "style_quiz.jsonl")
    shipped = load_corpus()
    split, base = load_split(merged), load_split(shipped)
    quiz_ids = [p for p in merged.prompt_ids if p not in shipped.prompts]
    assert len(quiz_ids) == 40 and merged.prompt_ids[:len(shipped.prompt_ids)] == shipped.prompt_ids
    # The test prompts and the users are the shipped ones; the quiz prompts only calibrate.
    assert split.heldout_prompts == base.heldout_prompts
    assert split.new_users == base.new_users and split.train_users == base.train_users
    assert set(split.train_prompts) == set(base.train_prompts) | set(quiz_ids)
    rows = np.flatnonzero(np.isin(merged.response_prompt, [merged.prompt_ids.index(p) for p in quiz_ids]))
    for r in rows:
        n = len(re.findall(r"[A-Za-z0-9']+", merged.texts[r]))
        assert 20 <= n <= 45 and merged.traits[r, 0] == -1, merged.response_ids[r]
    for p in quiz_ids:
        assert len(re.findall(r"[A-Za-z0-9']+", merged.prompt_text(p))) <= 20


def test_adjudication_takes_the_audit_where_it_saw_something():
    written = {x["id"]: x["traits"] for line in open(QUIZ / "written.jsonl", encoding="utf-8")
               for x in json.loads(line)["responses"]}
    audit = {}
    for f in (QUIZ / "audit").glob("quiz*_labels.jsonl"):
        for line in open(f, encoding="utf-8"):
            d = json.loads(line)
            audit[d["id"]] = d["traits"]
    final = {x["id"]: x["traits"] for r in _merge_module().adjudicated() for x in r["responses"]}
    assert set(final) == set(written) == set(audit) and len(final) == 240
    changed = 0
    for rid, t in final.items():
        for k in t:
            if k == "length":
                continue
            want = written[rid][k] if audit[rid][k] == 0 else audit[rid][k]
            assert t[k] == want, (rid, k)
            changed += t[k] != written[rid][k]
    assert changed > 0  # the audit did overrule the writers somewhere


def test_reading_bound_perfect_reader_beats_a_noisy_one():
    out = subprocess.run([sys.executable, str(ROOT / "docs" / "experiments" / "reading_bound.py"),
                          "--no-shipped", "--noise", "0,1", "--words", "1273"],
                         capture_output=True, text=True, check=True).stdout
    got = {float(m[0]): (float(m[1]), float(m[2]))
           for m in re.findall(r"noise ([\d.]+): R\^2 ([\d.]+); AUC after words read \{1273: ([\d.]+)\}", out)}
    assert set(got) == {0.0, 1.0}, out
    assert got[0.0][0] == 1.0 and got[0.0][1] > 0.98
    assert got[1.0][0] < 0.6 and got[1.0][1] < got[0.0][1] - 0.2


def test_extra_stats_read_what_they_name():
    spec = importlib.util.spec_from_file_location("extra_stats", ROOT / "docs" / "experiments" / "extra_stats.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    f = mod.extra_stats(["Water it weekly. What do you grow?", "Water it weekly. Obviously, just google it.",
                         "Water it weekly, I love it, amazing!"])
    assert f.shape == (3, 10)
    assert f[0, 0] == 1 and f[1, 0] == 0 and f[2, 0] == 0  # a closing question
    assert f[0, 1] > 0 and f[1, 1] == 0  # an invitation ("do you")
    assert f[2, 2] > 0 and f[0, 2] == 0  # excitement
    assert f[1, 3] > 0 and f[0, 3] == 0  # dismissive words
