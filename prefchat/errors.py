"""User-facing errors: one clear line naming the file or value and the fix, never a traceback."""


class PrefchatError(Exception):
    """An error whose message is meant for the user as is."""
