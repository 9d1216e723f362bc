"""Profiles on disk: one JSON file per profile in <data dir>/profiles, plus the default profile's name
in <data dir>/settings.json. The data dir is platformdirs' user_data_dir('prefchat') unless
PREFCHAT_HOME is set (tests, portable installs).

Every write is atomic: a temp file in the same directory, fsync, os.replace (or os.link when the
target must not be clobbered), then fsync of the directory so the rename itself is durable. A crash
at any moment leaves either the old file or the new one, never a mix."""

from __future__ import annotations

import errno
import json
import os
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

from prefchat.errors import PrefchatError
from prefchat.profiles.model import MAX_FILE_BYTES, Profile, check_name, now_iso, parse_bytes

SETTINGS_FILE = "settings.json"
TEMP_PREFIX = "."          # temp files are dotfiles so list() never mistakes them for profiles
TEMP_SUFFIX = ".tmp"
STALE_TEMP_S = 600         # a temp file this old belongs to a process that died mid-write


from prefchat.paths import data_dir  # noqa: E402  (its home is prefchat.paths; kept importable here)


# ---------------------------------------------------------------------------------------------------
# Atomic file primitives

def _fsync_dir(d: Path) -> None:
    try:
        fd = os.open(d, os.O_RDONLY)
    except OSError:  # e.g. Windows cannot open a directory; the rename is still atomic there
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes, overwrite: bool = True) -> None:
    """Write data to path so that readers and crashes see either the old or the new content.

    overwrite=False fails with FileExistsError if path exists, decided atomically by os.link (no
    window between the check and the write where another process could slip in)."""
    path = Path(path)
    d = path.parent
    fd, tmp = tempfile.mkstemp(dir=d, prefix=f"{TEMP_PREFIX}{path.name}.", suffix=TEMP_SUFFIX)
    try:
        with os.fdopen(fd, "wb") as f:  # mkstemp creates the file with mode 0600
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if overwrite:
            os.replace(tmp, path)
        else:
            try:
                os.link(tmp, path)
            except OSError as exc:
                if exc.errno == errno.EEXIST:
                    raise FileExistsError(str(path)) from None
                # Filesystems without hard links: a check-then-replace is the best we can do.
                if path.exists():
                    raise FileExistsError(str(path)) from None
                os.replace(tmp, path)
            else:
                os.unlink(tmp)
        _fsync_dir(d)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def read_capped(path: Path) -> bytes:
    """Read at most MAX_FILE_BYTES + 1 bytes, so a huge or endless file (/dev/zero) costs nothing."""
    with open(path, "rb") as f:
        return f.read(MAX_FILE_BYTES + 1)


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
            self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            raise PrefchatError(f"cannot create profile directory {self.dir} ({exc.strerror}); "
                                "check permissions or set PREFCHAT_HOME") from None

    def path_for(self, name: str) -> Path:
        return self.dir / f"{check_name(name)}.json"

    def exists(self, name: str) -> bool:
        return self.path_for(name).exists()

    # -- read ---------------------------------------------------------------------------------------

    def load(self, name: str) -> Profile:
        path = self.path_for(name)
        try:
            data = read_capped(path)
        except FileNotFoundError:
            raise PrefchatError(f"no profile named '{name}' (see `prefchat profile list`)") from None
        except OSError as exc:
            raise PrefchatError(f"{path}: cannot read ({exc.strerror})") from None
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

    def save(self, profile: Profile, overwrite: bool = True) -> Path:
        """Write the profile atomically. overwrite=False refuses to replace an existing profile."""
        self._ensure_dir()
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
        _fsync_dir(self.dir)
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
        _fsync_dir(self.dir)
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
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        atomic_write(self.settings_path, (json.dumps(s, indent=1, sort_keys=True) + "\n").encode())
