"""Self-check for one corpus batch: schema, spec match, length rules, repeated phrases."""
import json, re, sys
from collections import defaultdict
TRAITS = ["length", "formality", "humour", "elicitation", "politeness", "enthusiasm", "confidence"]
out, spec = sys.argv[1], sys.argv[2]
QUIZ = "--quiz" in sys.argv[3:]  # quiz batches (quiz/GUIDE.md): prompts <= 20 words, replies 20-45 words
specs = {p["id"]: p for p in json.load(open(spec))["prompts"]}
rows = [json.loads(l) for l in open(out, encoding="utf-8") if l.strip()]
problems = []
def words(t): return re.findall(r"[A-Za-z0-9']+", t)
def sentences(t):
    return [s for s in re.split(r"(?<=[.!?])\s+|\n+", t.strip()) if re.search(r"[A-Za-z]", s)]
seen_ids = set()
grams = defaultdict(set)
for r in rows:
    pid = r.get("id")
    if pid not in specs: problems.append(f"{pid}: id not in spec"); continue
    seen_ids.add(pid)
    if not isinstance(r.get("prompt"), str) or len(r["prompt"]) < 15: problems.append(f"{pid}: prompt missing/short")
    elif QUIZ and len(words(r["prompt"])) > 20: problems.append(f"{pid}: quiz prompts need <= 20 words, has {len(words(r['prompt']))}")
    resp = r.get("responses", [])
    if [x.get("id") for x in resp] != [x["id"] for x in specs[pid]["responses"]]:
        problems.append(f"{pid}: response ids differ from spec"); continue
    for x, s in zip(resp, specs[pid]["responses"]):
        want = {t: s["spec"].get(t, 0) for t in TRAITS}
        if list(x.get("traits", {}).keys()) != TRAITS or x["traits"] != want:
            problems.append(f"{x['id']}: traits {x.get('traits')} != spec {want}")
        t = x.get("text", "")
        n, ns = len(words(t)), len(sentences(t))
        L = want["length"]
        if L == 1 and not (120 <= n <= 250): problems.append(f"{x['id']}: verbose needs 120-250 words, has {n}")
        if L == -1 and not (ns <= 3 and n <= 60): problems.append(f"{x['id']}: concise needs <=3 sentences & <=60 words, has {ns} sentences/{n} words")
        if L == 0 and not (40 <= n <= 115 and ns >= 3): problems.append(f"{x['id']}: neutral length needs >=3 sentences and 40-115 words, has {ns}/{n}")
        if QUIZ and not 20 <= n <= 45: problems.append(f"{x['id']}: quiz replies need 20-45 words, has {n}")
        if want["enthusiasm"] != 1 and "!" in t: problems.append(f"{x['id']}: '!' only allowed when enthusiasm=+1")
        w = [a.lower() for a in words(t)]
        for k in range(len(w) - 5):
            grams[" ".join(w[k:k + 6])].add(x["id"])
missing = set(specs) - seen_ids
if missing: problems.append(f"missing prompts: {sorted(missing)}")
for g, ids in grams.items():
    if len(ids) > 1: problems.append(f"repeated 6-gram '{g}' in {sorted(ids)}")
print("\n".join(problems) if problems else f"OK: {len(rows)} prompts")
sys.exit(1 if problems else 0)
