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


def spec_triples(dirs, count, rng, n_extra):
    """One prompt's six 3-trait triples: every direction in dirs once, plus n_extra rotating extras
    (the least used so far, one per trait), shuffled until no triple has a trait twice."""
    extras = []
    for d in sorted(dirs, key=lambda d: (count[d], rng.random())):
        if len(extras) == n_extra: break
        if all(e[0] != d[0] for e in extras):
            extras.append(d)
    slots = dirs + extras
    while True:
        rng.shuffle(slots)
        triples = [slots[k:k + 3] for k in range(0, len(slots), 3)]
        if all(len({t for t, _ in tr}) == 3 for tr in triples):
            break
    for d in slots: count[d] += 1
    return triples


def make_batches(n_batch, per, first, dirs, n_extra, seed, cat_offset=0, fixed=()):
    """Specs for n_batch batches of per prompts (ids from p{first}); every response also carries the
    (trait, value) pairs in fixed."""
    rng = random.Random(seed)
    count = {d: 0 for d in dirs}
    batches = [[] for _ in range(n_batch)]
    for i in range(n_batch * per):
        triples = spec_triples(dirs, count, rng, n_extra)
        pid = f"p{first + i:04d}"
        batches[i % n_batch].append({"id": pid, "category": CATS[(i + cat_offset) % len(CATS)],
                                     "responses": [{"id": f"{pid}-r{k + 1}",
                                                    "spec": {t: s for t, s in sorted(list(fixed) + tr, key=lambda x: TRAITS.index(x[0]))}}
                                                   for k, tr in enumerate(triples)]})
    return batches, count


if __name__ == "__main__":
    batches, count = make_batches(N_BATCH, PER, 1, DIRS, 4, seed=7)
    for b in range(N_BATCH):
        json.dump({"batch": b + 1, "domain_flavour": FLAVOURS[b], "prompts": batches[b]},
                  open(f"specs/batch{b + 1}.json", "w"), indent=1)
    print(count)
