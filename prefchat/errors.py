"""User-facing errors: one clear line naming the file or value and the fix, never a traceback."""


class PrefchatError(Exception):
    """An error whose message is meant for the user as is."""


def first_line(exc: BaseException, limit: int = 200) -> str:
    """The first line of an exception's message (its type name when the message is empty), cut to
    `limit`: libraries such as torch and transformers put pages of context after it."""
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:limit]
