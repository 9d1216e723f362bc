"""Compare writer labels with the blind audit, report agreement per trait, and write final labels.

Final labels describe the text: length follows its measurable definition (verbose >= 120 words,
concise <= 3 sentences). For the other traits the blind reading wins wherever it saw something in the
text: a trait the writer left neutral but the reader found marked, or the opposite direction. Where the
writer marked a trait and the reader, told to answer 0 unless a trait is conspicuous, answered 0, the
writer's label stays: the text was written to show it, only less loudly."""
import json, re, sys
from collections import Counter
TRAITS = ["length", "formality", "humour", "elicitation", "politeness", "enthusiasm", "confidence"]
def length_label(t):
    n = len(re.findall(r"[A-Za-z0-9']+", t))
    s = len([x for x in re.split(r"(?<=[.!?])\s+|\n+", t.strip()) if re.search(r"[A-Za-z]", x)])
    return 1 if n >= 120 else (-1 if s <= 3 and n <= 60 else 0)


def final_label(trait, writer, auditor, text):
    """The rule above, for one trait of one response."""
    return length_label(text) if trait == "length" else (writer if auditor == 0 else auditor)


if __name__ == "__main__":
    rows = [json.loads(l) for k in range(1, 7) for l in open(f"corpus_work/out/batch{k}.jsonl")]
    audit = {}
    for k in range(1, 7):
        for l in open(f"corpus_work/audit/batch{k}_labels.jsonl"):
            d = json.loads(l); audit[d["id"]] = d["traits"]
    agree = Counter(); agree_nz = Counter(); nz = Counter(); changed = Counter()
    for r in rows:
        for x in r["responses"]:
            a = audit[x["id"]]
            for t in TRAITS:
                w = x["traits"][t]
                agree[t] += (w == a[t])
                if w != 0:
                    nz[t] += 1; agree_nz[t] += (w == a[t])
                final = final_label(t, w, a[t], x["text"])
                changed[t] += final != w
                x["traits"][t] = final
    n = sum(len(r["responses"]) for r in rows)
    report = {t: {"agreement": round(agree[t] / n, 3), "agreement_on_spec_traits": round(agree_nz[t] / max(nz[t], 1), 3),
                  "labels_changed": changed[t]} for t in TRAITS}
    json.dump(report, open("corpus_work/audit/agreement.json", "w"), indent=1)
    rows.sort(key=lambda r: r["id"])
    open("prefchat/data/style_corpus.jsonl", "w").write("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    for t, v in report.items(): print(t, v)
    bal = Counter((t, x["traits"][t]) for r in rows for x in r["responses"] for t in TRAITS)
    print({f"{t}{'+' if s>0 else '-'}": bal[(t, s)] for t in TRAITS for s in (1, -1)})
