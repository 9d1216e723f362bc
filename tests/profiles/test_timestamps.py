"""Answer timestamps parse the same on every supported Python (3.10's fromisoformat reads neither a
trailing Z nor 1-5 fraction digits; CI runs the suite on 3.10 as well)."""

import pytest

from prefchat.errors import PrefchatError
from prefchat.profiles.profile import _timestamp


@pytest.mark.parametrize("s", ["2026-11-26T21:00:00Z", "2026-11-26T21:00:00+02:00", "2026-11-26T21:00:00.5Z",
                               "2026-11-26T21:00:00.123456Z", "2024-02-29T23:59:59-05:30"])
def test_valid_times_are_kept(s):
    assert _timestamp(s, "at") == s


@pytest.mark.parametrize("s", ["2026-13-26T21:00:00Z", "2026-11-26T21:00:00", "2026-11-26T21:00:00.1234567Z",
                               "2025-02-29T10:00:00Z", "2026-11-26 21:00:00Z", "yesterday"])
def test_invalid_times_are_refused(s):
    with pytest.raises(PrefchatError, match="ISO 8601"):
        _timestamp(s, "at")
