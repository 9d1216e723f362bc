"""Generate balanced 3-trait specs for the style corpus (issue 3).

Every prompt gets all 14 trait directions once plus 4 extras that rotate so
that, corpus-wide, each direction is used about equally often."""
import json, random
TRAITS = ["length", "formality", "humour", "elicitation", "politeness", "enthusiasm", "confidence"]
DIRS = [(t, s) for t in TRAITS for s in (1, -1)]
CATS = ["advice", "explanation", "how-to", "recommendation", "writing help", "programming question",
        "planning", "cooking", "travel", "learning", "work", "relationships", "health basics (answer with sensible caution)"]
FLAVOURS = [
    "home, household chores, DIY repairs, gardening, pets, everyday errands",
    "software, programming languages, computers, phones, data, the internet, office tools",
    "food and drink, restaurants, travel destinations, transport, hobbies, games, music",
    "school subjects, science, history, maths, personal finance, language learning",
    "friendship, family, dating, emotions, sleep, exercise, nutrition, common ailments",
    "writing, creative projects, events, time management, careers, job hunting, public speaking",
]
N_BATCH, PER = 6, 27
rng = random.Random(7)
count = {d: 0 for d in DIRS}
batches = [[] for _ in range(N_BATCH)]
for i in range(N_BATCH * PER):
    extras = []
    for d in sorted(DIRS, key=lambda d: (count[d], rng.random())):
        if len(extras) == 4: break
        if all(e[0] != d[0] for e in extras):
            extras.append(d)
    slots = DIRS + extras
    while True:
        rng.shuffle(slots)
        triples = [slots[k:k + 3] for k in range(0, 18, 3)]
        if all(len({t for t, _ in tr}) == 3 for tr in triples):
            break
    for d in slots: count[d] += 1
    b = i % N_BATCH
    pid = f"p{i + 1:04d}"
    batches[b].append({"id": pid, "category": CATS[i % len(CATS)],
                       "responses": [{"id": f"{pid}-r{k + 1}", "spec": {t: s for t, s in sorted(tr, key=lambda x: TRAITS.index(x[0]))}}
                                     for k, tr in enumerate(triples)]})
for b in range(N_BATCH):
    json.dump({"batch": b + 1, "domain_flavour": FLAVOURS[b], "prompts": batches[b]},
              open(f"specs/batch{b + 1}.json", "w"), indent=1)
print(count)
