"""Build the quiz-batch experiment's corpus (issue 14, BENCHMARKS.md "What limits the reading target").

Final labels follow ../adjudicate.py's rule: length by its measurable definition; for the other traits
the blind audit (audit/quizK_labels.jsonl) wins wherever it saw something, else the writer's spec
stays. Writes to OUT:
  style_quiz.jsonl        the shipped corpus followed by the 40 quiz prompts
  style_quiz.split.json   the shipped split with the quiz prompts added to the training prompts, so
                          the held-out (test) prompts and the users stay exactly as shipped
and prints the writer/audit agreement. With --reading it also prints how well the shipped basis reads
the traits of quiz pairs against the shipped pool's pairs (R^2 of phi differences predicted linearly
from trait differences, the map fitted on the pool's pairs).

    python docs/corpus/quiz/merge.py OUT [--reading]
"""
import json, sys
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
sys.path.insert(0, str(HERE.parent))
from adjudicate import TRAITS, final_label  # noqa: E402 - the first six batches' rule, reused


def adjudicated():
    rows = [json.loads(line) for line in open(HERE / "written.jsonl", encoding="utf-8")]
    audit = {}
    for f in sorted((HERE / "audit").glob("quiz*_labels.jsonl")):
        for line in open(f, encoding="utf-8"):
            d = json.loads(line)
            audit[d["id"]] = d["traits"]
    agree, agree_nz, nz, n = Counter(), Counter(), Counter(), 0
    for r in rows:
        for x in r["responses"]:
            n += 1
            a = audit[x["id"]]
            for t in TRAITS:
                w = x["traits"][t]
                agree[t] += w == a[t]
                if w:
                    nz[t] += 1
                    agree_nz[t] += w == a[t]
                x["traits"][t] = final_label(t, w, a[t], x["text"])
    for t in TRAITS:
        print(f"{t:12s} agreement {agree[t] / n:.3f}, where the spec marked it {agree_nz[t] / max(nz[t], 1):.3f}")
    return rows


def main(out: Path, reading: bool) -> None:
    out.mkdir(parents=True, exist_ok=True)
    quiz = adjudicated()
    shipped = ROOT / "prefchat" / "data" / "style_corpus.jsonl"
    text = shipped.read_text(encoding="utf-8") + "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in quiz)
    (out / "style_quiz.jsonl").write_text(text, encoding="utf-8")
    split = json.loads(shipped.with_name("style_corpus.split.json").read_text())
    split["prompts"]["train"] = sorted(split["prompts"]["train"] + [r["id"] for r in quiz])
    (out / "style_quiz.split.json").write_text(json.dumps(split, indent=1) + "\n")
    print(f"wrote {out / 'style_quiz.jsonl'} ({len(quiz)} quiz prompts) and its split")
    if reading:
        import numpy as np
        from prefchat.basis import load_basis
        from prefchat.basis.evaluate import _phi_all
        from prefchat.data import load_corpus
        corpus = load_corpus(out / "style_quiz.jsonl")
        phi, _ = _phi_all(load_basis(None), corpus)
        a, b, p = corpus.pairs()
        quiz_ids = {r["id"] for r in quiz}
        q = np.isin(p, list(quiz_ids))
        X, Y = (corpus.traits[a] - corpus.traits[b]).astype(float), phi[a] - phi[b]
        B = np.linalg.lstsq(X[~q], Y[~q], rcond=None)[0]
        for name, m in (("shipped pool pairs", ~q), ("quiz pairs", q)):
            r2 = 1 - ((Y[m] - X[m] @ B) ** 2).sum() / ((Y[m] - Y[m].mean(0)) ** 2).sum()
            print(f"{name}: R^2 {r2:.3f} ({m.sum()} pairs)")


if __name__ == "__main__":
    main(Path(sys.argv[1]), "--reading" in sys.argv[2:])
