#!/usr/bin/env bash
# One-shot GPU check for the backbone basis (issue 8), for a machine with no network.
#
#   bash scripts/gpu_check.sh            # from the repository root; results also go to $OUT if set
#
# Needs only what the GPU image has: python3 with torch (CUDA), transformers, tokenizers, safetensors,
# typer, rich, numpy, peft. Installs nothing. prefchat runs from the checkout (PYTHONPATH), not pip.
# Builds a random-weight Qwen2.5-0.5B-shaped model from a config (896 wide, 24 layers, 14/2 heads,
# ffn 4864, real 151,936 vocabulary, bf16; tokenizer trained in-process), then measures:
#   1. bench basis --mode lora  (scoring latency 8x256 target <= 15 ms; training target >= 500 pairs/s)
#   2. bench basis --mode full  (full fine-tuning, fp32 master weights + bf16 autocast)
#   3. bench basis --mode lora --train-tokens 256
#   4. a 1-process torchrun (NCCL) `prefchat train` of a tiny model: the engine's bf16/DDP path on CUDA
#   5. bench generate --backend hf on cuda, eager and --compile (CUDA graphs): decode tok/s (target
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
MODEL="$WORK/random-qwen05b"
STEPS=${STEPS:-10}

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

bench() {  # name, extra args...
  local name=$1; shift
  echo "== bench basis $name"
  local t0=$SECONDS
  $PY -m prefchat bench basis --backbone "$MODEL" --make-tiny qwen05b --device "$DEV" --steps "$STEPS" --json "$@" \
      > "$OUTDIR/bench_$name.json" 2> "$OUTDIR/bench_$name.err"
  local rc=$?
  if [ $rc -ne 0 ]; then echo "FAILED rc=$rc"; tail -20 "$OUTDIR/bench_$name.err"; return; fi
  $PY - "$OUTDIR/bench_$name.json" <<'PYEOF'
import json, sys
o = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
t, s, l = o["train"], o["score"], o["latency_8x256_ms"]
print(f"  {o.get('gpu', o['device'])} {o['dtype']} mode={o['mode']} trainable={o['trainable_params']:,}")
print(f"  training: {t['pairs_per_s']:.0f} pairs/s ({t['tokens_per_s']:.0f} tok/s, {t['pairs_per_step']} pairs x 2 x "
      f"{t['tokens_per_response']} tok/step, peak {t.get('peak_mem_gb', 0):.1f} GB)  target >= 500: "
      f"{'MET' if t['pairs_per_s'] >= 500 else 'MISSED'}")
print(f"  scoring: {s['responses_per_s']:.0f} responses/s (batch {s['batch']} x {s['tokens_per_response']})")
print(f"  latency 8x256: median {l['median']:.2f} ms (min {l['min']:.2f}, {l['runs']} runs)  target <= 15: "
      f"{'MET' if l['median'] <= 15 else 'MISSED'}")
PYEOF
  echo "  ($((SECONDS - t0)) s)"
}

bench lora --mode lora
bench full --mode full
bench lora256 --mode lora --train-tokens 256

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
echo "== bench generate --backend hf (transformers decode loop), eager and --compile"
for mode in eager compile; do
  t0=$SECONDS
  flag=""; [ "$mode" = compile ] && flag="--compile"
  timeout 900 $PY -m prefchat bench generate --backend hf --make-tiny qwen05b-full --device "$DEV" $flag \
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
