"""Strip labels from a batch for the blind audit; shuffle response order so position gives nothing away."""
import json, random, sys
k = sys.argv[1]
rng = random.Random(int(k))
rows = [json.loads(l) for l in open(f"corpus_work/out/batch{k}.jsonl")]
with open(f"corpus_work/audit/batch{k}_blind.jsonl", "w") as f:
    for r in rows:
        resp = [{"id": x["id"], "text": x["text"]} for x in r["responses"]]
        rng.shuffle(resp)
        f.write(json.dumps({"id": r["id"], "prompt": r["prompt"], "responses": resp}) + "\n")
