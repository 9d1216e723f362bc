"""Generate specs for the quiz batches (issue 14): short prompts, six concise replies each.

The quiz pays for every word a person reads, and the first six batches' pairs cost a median of 194
words. A quiz batch keeps every reply concise (length -1: 1-3 sentences, at most 60 words; the guide
asks for 20-45) and gives it three of the six other traits instead, so a pair costs about 100 words
and still differs on several traits. Every prompt covers the 12 non-length directions once plus six
extras that rotate, so batch-wide each direction is used about equally often."""
import json, sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from gen_specs import FLAVOURS as ALL_FLAVOURS, TRAITS, make_batches  # the first six batches' balancing

OTHER = TRAITS[1:]
DIRS = [(t, s) for t in OTHER for s in (1, -1)]
FLAVOURS = ALL_FLAVOURS[:5]
N_BATCH, PER, FIRST = 5, 8, 163   # prompts p0163 onwards follow the first six batches' p0001-p0162
batches, count = make_batches(N_BATCH, PER, FIRST, DIRS, 6, seed=14, cat_offset=5, fixed=[("length", -1)])
for b in range(N_BATCH):
    json.dump({"batch": f"quiz{b + 1}", "domain_flavour": FLAVOURS[b], "prompts": batches[b]},
              open(f"specs/quiz{b + 1}.json", "w"), indent=1)
print(count)
