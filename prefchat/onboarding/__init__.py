"""Onboarding logic that is neither the quiz's state machine nor a UI: reading cost, live questions."""
