"""Personalised generation without any LLM or UI: the guard that screens candidates before a pick,
the style card (a profile in words), per-candidate instruction strategies, "why this reply", and the
simulation that measures them (`prefchat eval --generation`). Pure Python + numpy."""
