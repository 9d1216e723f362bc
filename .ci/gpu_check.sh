#!/usr/bin/env bash
# One-shot GPU check for the backbone basis (issue 8), for a machine with no network.
#
#   bash .ci/gpu_check.sh            # from the repository root; results also go to $OUT if set
#   bash .ci/gpu_check.sh backbone   # only step 1 (the backbone basis, issue 16 item 5; ~8 min)
#   bash .ci/gpu_check.sh decode     # only step 3 (transformers decode, issue 16 item 4)
# The device runs one command for at most 10 minutes: run `backbone` and `decode` as two commands.
#   RUNS="train_mixed_padded train_mixed_buckets" bash .ci/gpu_check.sh backbone   # some runs only
#
# Needs only what the GPU image has: python3 with torch (CUDA), transformers, tokenizers, safetensors,
# typer, rich, numpy, peft. Installs nothing. prefchat runs from the checkout (PYTHONPATH), not pip.
# Builds a random-weight Qwen2.5-0.5B-shaped model from a config (896 wide, 24 layers, 14/2 heads,
# ffn 4864, real 151,936 vocabulary, bf16; tokenizer trained in-process), then measures:
#   1. bench basis (issue 16 item 5), one path per run, most important first, each under a timeout and
#      cut so that all end by BUDGET seconds (default 510): scoring 8x256 eager / CUDA graphs over shape
#      buckets / torch.compile reduce-overhead (target <= 10 ms), then training full and LoRA with the
#      fused AdamW, 256 pairs/step, a compiled model, and length buckets on mixed lengths (target >= 600
#      pairs/s at 128 tokens/response). Ends with the best of each and MET/MISSED.
#   2. a 1-process torchrun (NCCL) `prefchat train` of a tiny model: the engine's bf16/DDP path on CUDA
#   3. bench generate --backend hf on cuda, eager and --compile (CUDA graphs), each under 280 s: decode tok/s (target
#      >= 150) and best-of-4 / single (target <= 1.2x), issue 16 item 4
set -u
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 \
       TOKENIZERS_PARALLELISM=false PYTHONWARNINGS=ignore
PY=${PYTHON:-python3}
DEV=${DEVICE:-cuda}
OUTDIR=${OUT:-/tmp/prefchat-gpu-check}
WORK=${WORK:-/tmp/prefchat-gpu-work}
mkdir -p "$OUTDIR" "$WORK"
MODEL=${MODEL:-$WORK/random-qwen05b}  # an existing model dir is used as is (a CPU dry run: a tiny one)
STEPS=${STEPS:-10}
SECTIONS=${1:-all}
BUDGET=${BUDGET:-510}
START=$SECONDS

echo "== machine"
nvidia-smi -L 2>/dev/null || echo "(no nvidia-smi)"
$PY - <<'PYEOF'
import importlib, torch
print("torch", torch.__version__, "cuda", torch.cuda.is_available(),
      torch.cuda.get_device_name(0) if torch.cuda.is_available() else "")
for m in ("transformers", "tokenizers", "peft", "safetensors", "typer", "rich", "numpy"):
    try:
        print(m, importlib.import_module(m).__version__)
    except Exception as e:
        print(m, "MISSING", e)
PYEOF

bench() {  # name, timeout s, extra args...
  local name=$1 limit=$2; shift 2
  if [ -n "${RUNS:-}" ] && [[ " $RUNS " != *" $name "* ]]; then return; fi  # RUNS="a b": only these
  echo "== bench basis $name: $*"
  rm -f "$OUTDIR/bench_$name.json"  # a stale result must not count in the summary
  # Every run ends by START + BUDGET, so the section fits the device's 10-minute limit per command.
  local left=$((BUDGET - (SECONDS - START)))
  if [ "$left" -lt 40 ]; then echo "  SKIPPED (time budget of $BUDGET s spent)"; return; fi
  [ "$limit" -gt "$left" ] && limit=$left
  local t0=$SECONDS
  timeout "$limit" $PY -m prefchat bench basis --backbone "$MODEL" --make-tiny qwen05b --device "$DEV" --steps "$STEPS" \
      --json "$@" > "$OUTDIR/bench_$name.json" 2> "$OUTDIR/bench_$name.err"
  local rc=$?
  if [ $rc -ne 0 ]; then echo "  FAILED rc=$rc"; tail -20 "$OUTDIR/bench_$name.err"; return; fi
  $PY - "$OUTDIR/bench_$name.json" <<'PYEOF'
import json, sys
o = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
print(f"  {o.get('gpu', o['device'])} {o['dtype']} mode={o['mode']}")
if "train" in o:
    t, p = o["train"], o["train"]["path"]
    print(f"  training: {t['pairs_per_s']:.0f} pairs/s ({t['tokens_per_s']:.0f} real tok/s, {t['pairs_per_step']} pairs x 2 x "
          f"{'<=' if p['mixed_lengths'] else ''}{t['tokens_per_response']} tok/step, peak {t.get('peak_mem_gb', 0):.1f} GB); "
          f"fused={p['fused_adamw']} compiled={p['compiled']} buckets={p['bucket_tokens']} {p.get('compile_error', '')}")
if "score" in o:
    s, l = o["score"], o["latency_8x256_ms"]
    print(f"  scoring: path {s['path']} (asked {s['capture']}; warm-up {s['warmup_s']:.1f} s) {s['capture_note']}")
    print(f"  scoring: {s['responses_per_s']:.0f} responses/s (batch {s['batch']} x {s['tokens_per_response']}); "
          f"latency 8x256 median {l['median']:.2f} ms (min {l['min']:.2f}, {l['runs']} runs)")
PYEOF
  echo "  ($((SECONDS - t0)) s)"
}

if [ "$SECTIONS" != decode ]; then
# Scoring (--part score loads only the scorer). Training at 128 tokens/response, as the target is set.
bench score_eager 150 --part score --mode frozen --capture off
bench score_graph 150 --part score --mode frozen --capture graph
bench train_full128 150 --part train --mode full --train-pairs 128
bench train_full256 180 --part train --mode full --train-pairs 256
bench score_compile 300 --part score --mode frozen --capture compile
bench train_full128_compiled 300 --part train --mode full --train-pairs 128 --compile-train
bench train_lora128 150 --part train --mode lora --train-pairs 128
bench train_mixed_padded 150 --part train --mode full --train-pairs 128 --mixed-lengths
bench train_mixed_buckets 150 --part train --mode full --train-pairs 128 --mixed-lengths --bucket-tokens 8192

echo "== issue 16 item 5 targets (best run of each; mixed-length runs are not the target's workload)"
$PY - "$OUTDIR" <<'PYEOF'
import glob, json, sys
lat, train, devices = [], [], set()
for f in sorted(glob.glob(f"{sys.argv[1]}/bench_*.json")):
    try:
        o = json.loads(open(f).read().strip().splitlines()[-1])
    except (ValueError, IndexError):
        continue
    devices.add(o["device"])
    name = f.rsplit("bench_", 1)[1][:-5]
    if "score" in o:
        lat.append((o["latency_8x256_ms"]["median"], f"{name} (path {o['score']['path']})"))
    if "train" in o and not o["train"]["path"]["mixed_lengths"] and o["train"]["tokens_per_response"] == 128:
        train.append((o["train"]["pairs_per_s"], name))
if lat:
    v, n = min(lat)
    print(f"  scoring 8x256: {v:.2f} ms median, {n}; target <= 10 ms: {'MET' if v <= 10 else 'MISSED'}")
else:
    print("  scoring 8x256: no finished scoring run")
if train:
    v, n = max(train)
    print(f"  training: {v:.0f} pairs/s, {n}; target >= 600 pairs/s: {'MET' if v >= 600 else 'MISSED'}")
else:
    print("  training: no finished run at the target workload (full-length rows, 128 tokens/response)")
if devices and not all(d.startswith("cuda") for d in devices):
    print(f"  NOTE: ran on {', '.join(sorted(devices))}, not a GPU: the targets are for the H200 and do not apply")
PYEOF
echo "  (backbone section: $((SECONDS - START)) s)"
fi
if [ "$SECTIONS" = backbone ]; then echo "== done (backbone only); JSON and logs in $OUTDIR"; exit 0; fi

if [ "$SECTIONS" != decode ]; then
echo "== torchrun (1 process, NCCL) prefchat train on a tiny model, bf16 autocast"
t0=$SECONDS
timeout 300 $PY - "$WORK" <<'PYEOF' > "$OUTDIR/ddp_setup.log" 2>&1
import sys
from pathlib import Path
from tests.backbone.helpers import write_pairwise, write_tiny_qwen
w = Path(sys.argv[1])
write_tiny_qwen(w / "tiny")
write_pairwise(w / "prefs.jsonl", n_users=6, n_prompts=8, n_resp=4)
PYEOF
timeout 300 $PY -m torch.distributed.run --nproc_per_node 1 --master_addr 127.0.0.1 --master_port 29513 \
    -m prefchat train --data "pairwise:$WORK/prefs.jsonl" --backbone "$WORK/tiny" --mode lora --dims 4 \
    --epochs 3 --batch-size 32 --accumulate 2 --out "$WORK/tiny-basis" > "$OUTDIR/ddp_train.log" 2>&1
rc=$?
tail -3 "$OUTDIR/ddp_train.log"
echo "  rc=$rc ($((SECONDS - t0)) s)"
cp "$WORK/tiny-basis/basis.json" "$OUTDIR/tiny_basis.json" 2>/dev/null || true
fi
echo "== bench generate --backend hf (transformers decode loop), eager and --compile"
for mode in eager compile; do
  t0=$SECONDS
  flag=""; [ "$mode" = compile ] && flag="--compile"
  timeout 280 $PY -m prefchat bench generate --backend hf --make-tiny qwen05b-full --device "$DEV" $flag \
      -n 4 --max-tokens 128 --repeats 5 --json > "$OUTDIR/generate_hf_$mode.json" 2> "$OUTDIR/generate_hf_$mode.err"
  rc=$?
  if [ $rc -ne 0 ]; then echo "  $mode FAILED rc=$rc"; tail -20 "$OUTDIR/generate_hf_$mode.err"; continue; fi
  $PY - "$OUTDIR/generate_hf_$mode.json" "$mode" <<'PYEOF'
import json, sys
o = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
s, b = o["single"], o["best_of_n"]
print(f"  {sys.argv[2]} on {o['device']}: single {s['median_s']:.3f} s = {s['tok_per_s']:.0f} tok/s (target >= 150: "
      f"{'MET' if s['tok_per_s'] >= 150 else 'MISSED'}); best-of-4 {b['median_s']:.3f} s = {o['ratio']:.2f}x "
      f"(target <= 1.2: {'MET' if o['ratio'] <= 1.2 else 'MISSED'})")
PYEOF
  echo "  ($((SECONDS - t0)) s)"
done
echo "== done; JSON and logs in $OUTDIR"
