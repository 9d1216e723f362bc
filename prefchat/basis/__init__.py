"""Reward bases: the only reader and writer of a basis directory (models/NAME).

`prefchat.basis` keeps the public names of the former prefchat/basis.py module (now basis/format.py),
so `from prefchat.basis import load_basis` works as before. The other modules load torch and are
imported by the command or worker that needs them:

    format.py          Basis, Pool, Axis, load_basis, resolve_basis_path, fingerprint (numpy only)
    scorer.py          StyleHead and the MiniLM Scorer; load_scorer dispatches on the encoder kind
    encoders.py        MiniLM (sha256-checked), surface statistics, CausalLMEncoder
    train.py           `prefchat train` on the style corpus (MiniLM features + head)
    train_backbone.py  `prefchat train --backbone`: a causal-LM basis
    backbone_scorer.py a causal-LM basis's weights and scorer; backbone_capture.py its captured GPU path
"""

from prefchat.basis.format import (
    DEFAULT_BASIS,
    FORMAT,
    FORMAT_VERSION,
    TRAIT_POLES,
    Axis,
    Basis,
    Pool,
    fingerprint,
    load_basis,
    resolve_basis_path,
)

__all__ = ["DEFAULT_BASIS", "FORMAT", "FORMAT_VERSION", "TRAIT_POLES", "Axis", "Basis", "Pool", "fingerprint",
           "load_basis", "resolve_basis_path"]
