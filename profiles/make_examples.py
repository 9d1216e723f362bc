"""Regenerate the example profiles with the real fit: a simulated person takes the real onboarding
quiz (shipped basis, shipped corpus, 15 questions, active selection) answering by their trait weights,
and the saved profile is exported here.  Run:  python profiles/make_examples.py"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import numpy as np

PERSONAS = {
    "concise-formal": {"length": -1.0, "formality": 1.0},
    "playful-engaging": {"humour": 1.0, "elicitation": 1.0},
    "warm-confident": {"politeness": 1.0, "confidence": 1.0},
}


def main(out_dir: Path) -> None:
    with tempfile.TemporaryDirectory() as home:
        os.environ["PREFCHAT_HOME"] = home
        from prefchat.corpus import TRAITS
        from prefchat.profiles.exchange import export_to_file
        from prefchat.onboarding.quiz import open_session

        for name, weights in PERSONAS.items():
            s = open_session(profile=name, questions=15, seed=0)
            w = np.array([weights.get(t, 0.0) for t in TRAITS])
            while not s.done:
                q = s.current()
                ra = s.corpus.traits[s.corpus.response_row(q.a_id)] @ w
                rb = s.corpus.traits[s.corpus.response_row(q.b_id)] @ w
                s.answer("a" if ra > rb else "b" if rb > ra else "tie")
            export_to_file(s.store.load(name), out_dir / f"{name}.json", force=True)
            print(name, {r["trait"]: round(r["value"], 2) for r in s.rows()})


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent)
