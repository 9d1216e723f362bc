"""`prefchat bench guard`: what personalised generation adds to a turn beyond scoring (the guard, the
per-candidate instructions, "why this reply"), and with --calibrate the corpus numbers behind the
guard's thresholds."""

from __future__ import annotations

import json
import platform
import statistics
import time
from pathlib import Path
from typing import Optional

from prefchat.basis import load_basis
from prefchat.basis.train import cached_features
from prefchat.data import load_corpus
from prefchat.errors import PrefchatError
from prefchat.generation import calibrate as cal
from prefchat.paths import shipped_models_dir
from prefchat.profiles.exchange import read_profile_file
from prefchat.rerank import phi_and_relevance


def measure(n: int = 8, repeats: int = 200, profile: Optional[Path] = None, calibrate: bool = False) -> dict:
    """The per-turn cost on the corpus's n longest replies (and, with calibrate, the corpus numbers
    behind the thresholds); the dict `--json` prints."""
    if not 1 <= n <= 64 or repeats < 1:
        raise PrefchatError("-n must be 1..64 and --repeats at least 1")
    b = load_basis()
    prof_file = profile or shipped_models_dir().parent / "profiles" / "concise-formal.json"
    prof = read_profile_file(str(prof_file))
    c = load_corpus()
    # the longest replies of the corpus (2,000+ characters, past a 256-token chat reply): the worst case
    texts = sorted(c.texts, key=len, reverse=True)[:n]
    out = {"turn": cal.time_turn(prof, b, texts, c.prompt_text(c.prompt_ids[0]), [0.5] * n, n, repeats),
           "machine": f"{platform.machine()}, python {platform.python_version()}"}
    if calibrate:
        scorer = b.scorer(device="cpu")
        enc = scorer.encoder
        out["scoring"] = _scoring_cost(scorer, c.prompt_text(c.prompt_ids[0]), texts)
        rf = cached_features(enc, c.texts)
        pf = cached_features(enc, [c.prompt_text(p) for p in c.prompt_ids])
        jf = cached_features(enc, list(cal.NON_ANSWERS))
        out["relevance"] = cal.relevance_numbers(c, rf, pf, jf)
        out["repetition"] = cal.repetition_numbers(c.texts)
    return out


def report(out: dict, repeats: int) -> str:
    """The per-turn figures, one line per mode, then the scoring and calibration numbers if measured."""
    t = out["turn"]
    lines = [f"per turn, {t['n']} candidates of ~{t['chars']} characters (median of {repeats}):",
             f"  first turn of a process (reads the shipped corpus's labels once): {t['first'] * 1e3:.1f} ms"]
    for mode in ("cold", "warm", "cold_cpu", "warm_cpu"):
        m = t[mode]
        label = mode.replace("_cpu", ", CPU time") if mode.endswith("cpu") else mode + ", wall time"
        lines.append(f"  {label:15s}: guard {m['guard'] * 1e3:.2f} ms, instructions {m['instructions'] * 1e3:.2f} ms, "
                     f"why {m['why'] * 1e3:.2f} ms, total {m['total'] * 1e3:.2f} ms (target <= 5 ms)")
    if "scoring" in out:
        sc = out["scoring"]
        lines.append(f"scoring the {t['n']} candidates (median of {sc['repeats']}): phi alone {sc['phi'] * 1e3:.0f} ms, "
                     f"phi + relevance (the prompt in the same batch) {sc['phi_and_relevance'] * 1e3:.0f} ms")
    for key in ("relevance", "repetition"):
        if key in out:
            lines.append(f"{key}: {json.dumps(out[key])}")
    return "\n".join(lines)


def _scoring_cost(scorer, prompt: str, texts: list[str], repeats: int = 5) -> dict:
    """What relevance adds to scoring: phi of the candidates, against phi plus the prompt's sentences
    in the same encoder batch (what the reranker does)."""
    a, b = [], []
    scorer.phi(texts, [prompt] * len(texts))  # warm-up
    for _ in range(repeats):
        t0 = time.perf_counter()
        scorer.phi(texts, [prompt] * len(texts))
        t1 = time.perf_counter()
        phi_and_relevance(scorer, prompt, texts)
        a.append(t1 - t0)
        b.append(time.perf_counter() - t1)
    return {"phi": statistics.median(a), "phi_and_relevance": statistics.median(b), "repeats": repeats}
