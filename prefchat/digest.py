"""Kept so `from prefchat.digest import file_sha256` still works; the home is prefchat.fileio."""

from prefchat.fileio import file_sha256  # noqa: F401
