"""The style corpus (docs/FORMATS.md, Corpus): loading, simulated users, splits, preference matrices."""

from prefchat.corpus.load import TRAITS, Corpus, load_corpus
from prefchat.corpus.users import KAPPA, SimUsers, dense_users, paper_users, simulate

__all__ = ["TRAITS", "Corpus", "load_corpus", "KAPPA", "SimUsers", "dense_users",
           "paper_users", "simulate"]
