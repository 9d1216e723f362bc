"""Profiles on disk: one JSON file per profile in <data dir>/profiles, plus the default profile's name
in <data dir>/settings.json. The data dir is platformdirs' user_data_dir('prefchat') unless
PREFCHAT_HOME is set (tests, portable installs).

Every write is atomic: a temp file in the same directory, fsync, os.replace (or os.link when the
target must not be clobbered), then fsync of the directory so the rename itself is durable. A crash
at any moment leaves either the old file or the new one, never a mix.

Concurrent writers (two onboarding quizzes, a refit, the chat learning from a pick) never silently
overwrite each other: every read-modify-write holds the profile's advisory lock (profiles/lock.py), and
`save(..., revision=R)` refuses with ProfileChanged when the file is no longer the one read at revision
R (its content hash). Callers then merge (`merge_answers`) and retry, or say why they cannot.

prefchat's own directories (PREFCHAT_HOME and every parent it has to create) are made 0700: they hold
private answers and chat history."""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Optional

from prefchat import fileio
from prefchat.errors import PrefchatError
from prefchat.fileio import TEMP_PREFIX, TEMP_SUFFIX, atomic_write, fsync_dir
from prefchat.paths import data_dir, ensure_dir
from prefchat.profiles.lock import profile_lock
from prefchat.profiles.profile import MAX_FILE_BYTES, Answer, Profile, check_name, now_iso, parse_bytes

SETTINGS_FILE = "settings.json"
STALE_TEMP_S = 600         # a temp file this old belongs to a process that died mid-write


class ProfileChanged(PrefchatError):
    """The profile file changed since it was read (another prefchat wrote it)."""


def revision_of(data: bytes | None) -> str:
    """A profile file's revision: the hash of its bytes ("" when there is no file)."""
    return "" if data is None else hashlib.sha256(data).hexdigest()


def answer_key(a: Answer) -> tuple:
    """A stable identity for an answer: when it was given and what it says. Two processes never
    produce the same key for different answers (the content is part of it)."""
    return (a.at, a.source, a.choice, a.prompt, a.a, a.b)


def merge_answers(base: list[Answer], mine: list[Answer], current: list[Answer]) -> list[Answer]:
    """Three-way merge of answer lists. base: what this writer read last; mine: what it wants now;
    current: what is on disk now. Keeps my list (so my undo of an answer in base sticks) plus every
    answer another writer added since base, in their order."""
    seen = {answer_key(a) for a in base} | {answer_key(a) for a in mine}
    return list(mine) + [a for a in current if answer_key(a) not in seen]


def read_capped(path: Path) -> bytes:
    """A profile or settings file, read up to the size a profile may have."""
    return fileio.read_capped(path, MAX_FILE_BYTES)


def _sweep_stale_temps(d: Path) -> None:
    cutoff = time.time() - STALE_TEMP_S
    for p in d.glob(f"{TEMP_PREFIX}*{TEMP_SUFFIX}"):
        try:
            if p.stat().st_mtime < cutoff:
                p.unlink()
        except OSError:
            pass


# ---------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Problem:
    """A file in the profiles dir that could not be loaded, and what the user can do about it."""

    file: Path
    reason: str
    fix: str


class ProfileStore:
    def __init__(self, root: Path | str | None = None):
        self.root = Path(root) if root is not None else data_dir()
        self.dir = self.root / "profiles"
        self.settings_path = self.root / SETTINGS_FILE

    def _ensure_dir(self) -> None:
        try:
            ensure_dir(self.dir)
        except OSError as exc:
            raise PrefchatError(f"cannot create profile directory {self.dir} ({exc.strerror}); "
                                "check permissions or set PREFCHAT_HOME") from None

    def path_for(self, name: str) -> Path:
        return self.dir / f"{check_name(name)}.json"

    def exists(self, name: str) -> bool:
        return self.path_for(name).exists()

    # -- read ---------------------------------------------------------------------------------------

    def load(self, name: str) -> Profile:
        return self.read(name)[0]

    def read(self, name: str) -> tuple[Profile, str]:
        """The profile and its revision (for `save(..., revision=)`)."""
        path = self.path_for(name)
        data = self._read_bytes(path)
        if data is None:
            raise PrefchatError(f"no profile named '{name}' (see `prefchat profile list`)")
        return self._parse(name, path, data), revision_of(data)

    def read_optional(self, name: str) -> tuple[Optional[Profile], str]:
        """Like read, but (None, "") when there is no such profile yet."""
        path = self.path_for(name)
        data = self._read_bytes(path)
        return (None, "") if data is None else (self._parse(name, path, data), revision_of(data))

    @staticmethod
    def _read_bytes(path: Path) -> Optional[bytes]:
        try:
            return read_capped(path)
        except FileNotFoundError:
            return None
        except NotADirectoryError:
            raise PrefchatError(f"{path.parent} is not a directory; move that file aside so "
                                "prefchat can keep profiles there") from None
        except OSError as exc:
            raise PrefchatError(f"{path}: cannot read ({exc.strerror})") from None

    @staticmethod
    def _parse(name: str, path: Path, data: bytes) -> Profile:
        prof = parse_bytes(data, str(path))
        if prof.name != name:
            raise PrefchatError(f"{path}: the file says its name is '{prof.name}'; rename the file to "
                                f"{prof.name}.json or fix the name inside")
        return prof

    def list(self) -> tuple[list[Profile], list[Problem]]:
        """All loadable profiles (sorted by name) and a Problem for every file that is not one.
        Never raises for a bad file: one corrupt profile must not hide the others."""
        good, bad = [], []
        if not self.dir.is_dir():
            return good, bad
        try:
            entries = sorted(self.dir.iterdir())
        except OSError as exc:
            raise PrefchatError(f"cannot read profile directory {self.dir} ({exc.strerror}); check its "
                                "permissions") from None
        for p in entries:
            if p.name.startswith(TEMP_PREFIX) or p.suffix != ".json":
                continue
            name = p.stem
            try:
                good.append(self.load(name))
            except PrefchatError as exc:
                reason = str(exc)
                if reason.startswith(f"{p}: "):
                    reason = reason[len(f"{p}: "):]
                bad.append(Problem(p, reason, f"fix or delete {p} (or move it aside) and import "
                                   "the profile again from an export"))
        return good, bad

    # -- write --------------------------------------------------------------------------------------

    def lock(self, name: str):
        """Context manager: hold the advisory lock of profile `name` (read-modify-write)."""
        self._ensure_dir()
        return profile_lock(self.dir, check_name(name))

    def save(self, profile: Profile, overwrite: bool = True, revision: Optional[str] = None) -> Path:
        """Write the profile atomically. overwrite=False refuses to replace an existing profile.
        revision: the revision the caller read; raises ProfileChanged if the file is no longer at
        it (checked under the profile's lock, so the check and the write are one step)."""
        self._ensure_dir()
        with profile_lock(self.dir, check_name(profile.name)):
            if revision is not None:
                now = revision_of(self._read_bytes(self.path_for(profile.name)))
                if now != revision:
                    raise ProfileChanged(f"profile '{profile.name}' was changed by another prefchat "
                                         "while this one was working on it")
            return self._save_locked(profile, overwrite)

    def _save_locked(self, profile: Profile, overwrite: bool) -> Path:
        path = self.path_for(profile.name)
        try:
            atomic_write(path, profile.to_bytes(), overwrite=overwrite)
        except FileExistsError:
            raise PrefchatError(f"a profile named '{profile.name}' already exists; choose another name "
                                "(--as NAME) or pass --force to replace it") from None
        except OSError as exc:
            raise PrefchatError(f"cannot write {path} ({exc.strerror}); the old file, if any, is "
                                "unchanged") from None
        _sweep_stale_temps(self.dir)
        return path

    def rename(self, old: str, new: str) -> Profile:
        check_name(new)
        prof = self.load(old)
        if old == new:
            return prof
        renamed = replace(prof, name=new, updated_at=now_iso())
        # New file first (refusing to clobber), old one second: a crash in between leaves two copies,
        # never zero.
        self.save(renamed, overwrite=False)
        os.unlink(self.path_for(old))
        fsync_dir(self.dir)
        self._forget_default(old, new)
        return renamed

    def delete(self, name: str) -> None:
        path = self.path_for(name)
        try:
            os.unlink(path)
        except FileNotFoundError:
            raise PrefchatError(f"no profile named '{name}' (see `prefchat profile list`)") from None
        except OSError as exc:
            raise PrefchatError(f"cannot delete {path} ({exc.strerror})") from None
        fsync_dir(self.dir)
        self._forget_default(name)

    # -- default profile ----------------------------------------------------------------------------

    def _read_settings(self) -> dict:
        try:
            data = read_capped(self.settings_path)
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise PrefchatError(f"{self.settings_path}: cannot read ({exc.strerror})") from None
        try:
            s = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            s = None
        if not isinstance(s, dict):
            raise PrefchatError(f"{self.settings_path}: not a JSON object; fix it or delete it "
                                "(it only holds the default profile name)")
        return s

    def _forget_default(self, name: str, new: str | None = None) -> None:
        """After delete/rename: move the default pointer. The profile operation has already
        succeeded, so a broken settings file must not turn it into an error (show() reports it)."""
        try:
            if self.get_default() == name:
                self.set_default(new)
        except PrefchatError:
            pass

    def get_default(self) -> str | None:
        name = self._read_settings().get("default_profile")
        return name if isinstance(name, str) else None

    def set_default(self, name: str | None) -> None:
        if name is not None:
            self.load(name)  # only a profile that exists and is valid can be the default
        s = self._read_settings()  # keep any other settings other parts of prefchat store here
        if name is None:
            s.pop("default_profile", None)
        else:
            s["default_profile"] = name
        ensure_dir(self.root)
        atomic_write(self.settings_path, (json.dumps(s, indent=1, sort_keys=True) + "\n").encode())
