"""A trained reward basis on disk (models/NAME/) and what the app needs from it.

    basis.json        name, format version, encoder identity, J, axes, prior, metrics, fingerprint
    head.safetensors  the J-dim head over encoder features (never pickle)
    pool.npz          onboarding pool: every within-prompt pair of the corpus with phi(a) - phi(b),
                      so the quiz starts without loading the encoder (numeric/str arrays only)

Loading basis.json and the pool is cheap (numpy only). The encoder and head load on demand in
`scorer()`, inside the command or worker that needs them."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from prefchat.errors import PrefchatError
from prefchat.paths import shipped_models_dir
from prefchat.reward.elicit import PRIOR_WIDENING

FORMAT = "prefchat.basis"
FORMAT_VERSION = 1
DEFAULT_BASIS = "style-v1"
TRAIT_POLES = {
    "length": ("concise", "verbose"),
    "formality": ("informal", "formal"),
    "humour": ("serious", "humorous"),
    "elicitation": ("unengaging", "engaging"),
    "politeness": ("rude", "polite"),
    "enthusiasm": ("demure", "enthusiastic"),
    "confidence": ("uncertain", "confident"),
}


@dataclass(frozen=True)
class Axis:
    """A named trait as a direction in basis space: a user's weight on the trait is a . lambda."""

    trait: str
    neg: str
    pos: str
    vector: np.ndarray  # J
    captured: float  # how well phi predicts the trait (held-out pairwise accuracy, 0.5 = not at all)


@dataclass(frozen=True)
class Pool:
    """Candidate questions: pairs (a, b) of responses to one prompt, with phi(a) - phi(b)."""

    prompt_ids: np.ndarray
    a_ids: np.ndarray
    b_ids: np.ndarray
    diffs: np.ndarray  # K x J


@dataclass
class Basis:
    path: Path
    meta: dict
    axes: list[Axis] = field(default_factory=list)

    @property
    def name(self) -> str:
        return str(self.meta["name"])

    @property
    def dims(self) -> int:
        return int(self.meta["dims"])

    @property
    def fingerprint(self) -> str:
        return str(self.meta["fingerprint"])

    @property
    def prior(self) -> tuple[np.ndarray, np.ndarray]:
        """Population prior for new users: (mean, precision matrix), checked against J here so every
        caller (quiz, refit, eval, chat) gets one clear error instead of checking it itself. The stored
        precision is the training users' empirical one; new users get it widened by PRIOR_WIDENING
        (see prefchat/reward/elicit.py for why)."""
        try:
            p = self.meta["prior"]
            mean = np.asarray(p["mean"], dtype=float)
            precision = np.asarray(p["precision"], dtype=float)
        except (KeyError, TypeError, ValueError):
            raise PrefchatError(f"{self.path}/basis.json: no usable prior; rebuild the basis") from None
        J = self.dims
        if mean.shape != (J,) or precision.shape != (J, J):
            raise PrefchatError(f"{self.path}/basis.json: prior shape does not match dims={J}; rebuild the basis")
        if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(precision))):
            raise PrefchatError(f"{self.path}/basis.json: prior has NaN or inf; rebuild the basis")
        return mean, precision / PRIOR_WIDENING

    def pool(self) -> Pool:
        f = self.path / "pool.npz"
        try:
            with np.load(f, allow_pickle=False) as z:
                return Pool(z["prompt_ids"], z["a_ids"], z["b_ids"], z["diffs"].astype(np.float64))
        except (OSError, KeyError, ValueError) as exc:
            raise PrefchatError(f"{f}: onboarding pool unreadable ({exc}); reinstall prefchat or rerun "
                                "`prefchat train`") from None

    def describe(self, lam: np.ndarray, precision: np.ndarray | None = None) -> list[dict]:
        """Per named trait: the user's weight a . lambda and its posterior sd sqrt(a' H^-1 a)."""
        cov = np.linalg.inv(precision) if precision is not None else None
        rows = []
        for ax in self.axes:
            value = float(ax.vector @ lam)
            sd = float(np.sqrt(max(ax.vector @ cov @ ax.vector, 0.0))) if cov is not None else None
            rows.append({"trait": ax.trait, "neg": ax.neg, "pos": ax.pos, "value": value, "sd": sd,
                         "captured": ax.captured})
        return rows

    def scorer(self, device: str | None = None):
        """The text -> phi model (encoder + head). Loads torch and the encoder: call it in a worker."""
        from prefchat.basis.scorer import load_scorer

        return load_scorer(self, device=device)




def resolve_basis_path(name_or_path: str | os.PathLike | None = None) -> Path:
    if name_or_path is None:
        name_or_path = os.environ.get("PREFCHAT_BASIS") or DEFAULT_BASIS
    p = Path(name_or_path).expanduser()
    if (p / "basis.json").is_file():
        return p
    cand = shipped_models_dir() / str(name_or_path)
    if (cand / "basis.json").is_file():
        return cand
    raise PrefchatError(f"basis '{name_or_path}' not found (looked for {p}/basis.json and "
                        f"{cand}/basis.json); pass --basis DIR or run `prefchat train`")


def load_basis(name_or_path: str | os.PathLike | None = None) -> Basis:
    path = resolve_basis_path(name_or_path)
    f = path / "basis.json"
    try:
        meta = json.loads(f.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PrefchatError(f"{f}: not a readable basis file ({exc}); rerun `prefchat train`") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise PrefchatError(f"{f}: not a prefchat basis (format != {FORMAT!r})")
    if meta.get("version") != FORMAT_VERSION:
        raise PrefchatError(f"{f}: basis format version {meta.get('version')!r} is not supported "
                            f"(this prefchat reads {FORMAT_VERSION}); upgrade prefchat or retrain")
    axes = [Axis(a["trait"], a["neg"], a["pos"], np.asarray(a["vector"], dtype=float), float(a["captured"]))
            for a in meta.get("axes", [])]
    return Basis(path, meta, axes)


def fingerprint(head_bytes: bytes, encoder_identity: dict) -> str:
    """Hash over the head weights and the encoder identity: equal fingerprints score text equally."""
    h = hashlib.sha256(head_bytes)
    h.update(json.dumps(encoder_identity, sort_keys=True).encode())
    return "sha256:" + h.hexdigest()
