"""The PReF math: basis factorization, new-user elicitation and evaluation.

numpy and torch only; no UI, no LLM, no application paths. Submodules are imported explicitly by
callers so that importing `prefchat.reward` stays cheap."""
