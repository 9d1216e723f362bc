"""A better reader from the same encoder? Ten more surface statistics for the traits the shipped basis
reads worst (issue 14, BENCHMARKS.md "What limits the reading target").

The shipped basis reads the held-out pairs' traits with R^2 0.91 (length), 0.62 (formality), 0.00
(humour), 0.50 (elicitation), 0.57 (politeness), 0.54 (enthusiasm) and 0.62 (confidence). This
script appends ten statistics aimed at those traits to the MiniLM features: a closing question,
phrases that invite a reply, excitement words, dismissive words, slang, first person, flat words,
asides, words per sentence and long words. It trains a basis on them with `prefchat train`'s own code
(to OUT, never over the shipped one) and runs `prefchat eval`'s own evaluation for each seed.

    python docs/experiments/extra_stats.py OUT [--seeds 0,1,2,3,4,5,6,7]
"""
import argparse
import re

import numpy as np

import prefchat.basis.evaluate as evaluate
import prefchat.basis.train as train

# Word lists, one per statistic; each becomes a whole-word, case-blind pattern.
_WORDS = {
    "invite": "let me know|tell me|share|what about you|have you|do you|would you|are you|what's your|"
              "what is your|how about you|curious|your thoughts|which one|did you",
    "excited": r"love|amazing|awesome|fantastic|wonderful|excit\w*|thrill\w*|incredible|delight\w*|brilliant|"
               "fun|yay|wow",
    "dismissive": "obviously|just|seriously|come on|not hard|google|frankly|honestly|basic|of course|again|clearly",
    "slang": "gonna|wanna|kinda|yeah|hey|stuff|pretty|super|cool|totally|nah|yep|okay|ok|guys|folks|lol|bit",
    "first_person": "i|i'm|i've|my|me",
    "flat": "fine|okay|adequate|suffices?|enough|works|standard|usual|plain|simply",
}
_RX = {name: re.compile(rf"\b({words})\b", re.I) for name, words in _WORDS.items()}
_ASIDE = re.compile(r"[()\u2014]|--|\bas if\b|\blike a\b|\bimagine\b|\bpun\b|\bjoke\b", re.I)


def extra_stats(texts: list[str]) -> np.ndarray:
    rows = []
    for t in texts:
        words = re.findall(r"[A-Za-z0-9']+", t)
        n = max(len(words), 1)
        sentences = [s for s in re.split(r"(?<=[.!?])\s+|\n+", t.strip()) if s]
        rate = lambda rx: len(rx.findall(t)) / n * 10  # noqa: E731 - per 10 words, as text_stats
        rows.append([float(bool(sentences) and "?" in sentences[-1]), *(rate(rx) for rx in _RX.values()),
                     rate(_ASIDE), np.log1p(n / max(len(sentences), 1)), sum(len(w) >= 9 for w in words) / n * 10])
    return np.asarray(rows, dtype=np.float32).reshape(len(texts), 10)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--seeds", default="0,1,2,3,4,5,6,7")
    args = ap.parse_args()
    base = train.cached_features

    def features(encoder, texts, progress=None):
        return np.concatenate([base(encoder, texts, progress), extra_stats(texts)], axis=1)

    # Both the trainer and the evaluation read features through cached_features.
    train.cached_features = evaluate.cached_features = features
    meta = train.train_basis(None, args.out)
    print(f"basis {args.out}: validation AUC {meta['metrics']['val_auc']:.4f} (shipped: 0.9267)", flush=True)
    from prefchat.basis import load_basis
    for seed in (int(s) for s in args.seeds.split(",")):
        r = evaluate.run_eval(load_basis(args.out), None, answers=(10, 15), seed=seed, words=(1273,))
        print(f"seed {seed}: cost-aware after 1,273 words {r['auc_at_words']['cost-aware']['1273']:.3f}, "
              f"default quiz {r['default_quiz']['auc']:.3f}, active 15 answers {r['auc']['active']['15']:.3f}",
              flush=True)


if __name__ == "__main__":
    main()
