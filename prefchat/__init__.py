"""prefchat: a terminal chat that learns one person's taste (PReF reward factorization).

Keep this module import-free: `prefchat --help` must not pay for torch or transformers."""

__version__ = "0.1.0"
