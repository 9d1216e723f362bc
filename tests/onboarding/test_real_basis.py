"""The consistent-person check against the real shipped basis and corpus (not a fixture)."""

import numpy as np

from prefchat.data import TRAITS


def test_concise_confident_person_on_the_shipped_basis(tmp_path, monkeypatch):
    monkeypatch.setenv("PREFCHAT_HOME", str(tmp_path))
    monkeypatch.delenv("PREFCHAT_BASIS", raising=False)
    from prefchat.onboarding.quiz import open_session

    w = np.array([{"length": -1.0, "confidence": 1.0}.get(t, 0.0) for t in TRAITS])
    s = open_session(profile="cc", questions=15, seed=0)
    while not s.done:
        q = s.current()
        ra = s.corpus.traits[s.corpus.response_row(q.a_id)] @ w
        rb = s.corpus.traits[s.corpus.response_row(q.b_id)] @ w
        s.answer("a" if ra > rb else "b" if rb > ra else "tie")
    rows = {r["trait"]: r for r in s.rows()}
    assert rows["length"]["value"] < 0 and rows["confidence"]["value"] > 0
    top = sorted(rows, key=lambda t: -abs(rows[t]["value"]))[:2]
    assert set(top) == {"length", "confidence"}, {t: round(r["value"], 2) for t, r in rows.items()}
    wanted = min(abs(rows["length"]["value"]), abs(rows["confidence"]["value"]))
    for t, r in rows.items():
        if t not in ("length", "confidence"):
            assert abs(r["value"]) < 0.6 * wanted, (t, r["value"], wanted)


def test_example_profiles_import_and_show(tmp_path, monkeypatch):
    import subprocess
    import sys
    from pathlib import Path

    monkeypatch.setenv("PREFCHAT_HOME", str(tmp_path))
    root = Path(__file__).resolve().parents[2] / "profiles"
    files = sorted(root.glob("*.json"))
    assert len(files) >= 3
    for f in files:
        r = subprocess.run([sys.executable, "-m", "prefchat", "profile", "import", str(f)], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
    r = subprocess.run([sys.executable, "-m", "prefchat", "profile", "show", "concise-formal"], capture_output=True, text=True)
    assert r.returncode == 0 and "concise" in r.stdout, r.stdout + r.stderr
