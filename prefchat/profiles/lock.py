"""An advisory lock per profile: `profiles/.NAME.lock`, held with fcntl.flock.

Why flock: the lock belongs to the open file description, so the kernel drops it when the process
dies (kill -9 included): a crashed writer can never leave a profile locked. The lock file itself is
never deleted (deleting it would let two processes lock two different files of the same name). It is a
dotfile, so `profile list` never takes it for a profile. Where flock does not exist (Windows) the lock
is a no-op and the revision check in store.save still refuses a stale write."""

from __future__ import annotations

import contextlib
import os
import threading
import time
from pathlib import Path

from prefchat.errors import PrefchatError

WAIT_S = 15.0  # a writer holds the lock for one refit and one small file write
_held = threading.local()  # locks this thread holds: re-entering one must not wait for itself


@contextlib.contextmanager
def profile_lock(directory: Path, name: str, wait_s: float = WAIT_S):
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    path = Path(directory) / f".{name}.lock"
    held = getattr(_held, "paths", None)
    if held is None:
        held = _held.paths = set()
    key = str(path.resolve())
    if key in held:
        yield
        return
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise PrefchatError(f"cannot lock profile '{name}' ({path}: {exc.strerror})") from None
    try:
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise PrefchatError(f"profile '{name}' is being changed by another prefchat "
                                        f"(lock {path} held for over {wait_s:g} s); try again when "
                                        "it is done") from None
                time.sleep(0.02)
        held.add(key)
        try:
            yield
        finally:
            held.discard(key)
    finally:
        os.close(fd)  # closing the descriptor releases the lock
