"""The Textual quiz's tests share the onboarding tests' quiz fixtures (a small corpus and a basis built
from its trait labels): they live in tests/onboarding/conftest.py, with the package they test."""

from tests.onboarding.conftest import quiz_env  # noqa: F401  (a fixture: importing it registers it here)
from tests.onboarding.conftest import open_quiz, read_profile  # noqa: F401
