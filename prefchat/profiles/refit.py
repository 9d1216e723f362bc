"""Refit a profile's lambda on a (possibly different) basis from its raw answers.

This is why profiles keep answers: lambda only means something in the basis it was fitted on, but the
answers (prompt, a, b, choice) are basis-free, so any basis can re-derive lambda from them with the same
MAP fit the onboarding quiz uses (PReF Alg. 2), starting from that basis's population prior."""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from prefchat.errors import PrefchatError
from prefchat.profiles.profile import Profile, new_profile
from prefchat.reward.elicit import fit_lambda

# pair_diffs_fn(prompts, a_texts, b_texts) -> (n, J) array of phi(x, a) - phi(x, b). Injected rather
# than imported so this module stays numpy-only: the CLI passes the basis scorer's pair_diffs (which
# loads the encoder), tests pass a cheap deterministic function.
PairDiffsFn = Callable[[Sequence[str], Sequence[str], Sequence[str]], object]

OUTCOME = {"a": 1.0, "b": 0.0, "tie": 0.5}  # y = P(a preferred); v = phi(a) - phi(b)


def refit(profile: Profile, basis, pair_diffs_fn: PairDiffsFn) -> Profile:
    """A copy of profile with lambda, precision and basis reference fitted on `basis`."""
    if not profile.answers:
        raise PrefchatError(f"profile '{profile.name}' has no answers (a vector-only export?), so it "
                            "cannot be refitted; import a full export or redo onboarding")
    J = basis.dims
    mean, prec = basis.prior  # validated there
    ans = profile.answers
    v = np.asarray(pair_diffs_fn([a.prompt for a in ans], [a.a for a in ans], [a.b for a in ans]),
                   dtype=np.float64)
    if v.shape != (len(ans), J) or not np.all(np.isfinite(v)):
        raise PrefchatError(f"basis '{basis.name}' produced unusable features for the answers "
                            f"(shape {v.shape}, expected {(len(ans), J)}); check the basis files")
    y = np.array([OUTCOME[a.choice] for a in ans])
    try:
        lam, H = fit_lambda(v, y, beta=prec, prior_mean=mean)
    except (ValueError, np.linalg.LinAlgError) as exc:
        raise PrefchatError(f"refit on basis '{basis.name}' failed ({exc})") from None
    if not (np.all(np.isfinite(lam)) and np.all(np.isfinite(H))):
        raise PrefchatError(f"refit on basis '{basis.name}' diverged; the basis prior may be broken")
    return new_profile(profile.name, basis.name, basis.fingerprint, lam, H, profile.answers,
                       created_at=profile.created_at)
