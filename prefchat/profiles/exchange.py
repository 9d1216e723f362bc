"""Export and import of profile files between machines and people.

Export writes the profile format (docs/FORMATS.md) (optionally without answers, for privacy). Import treats the file as
untrusted (see model.parse_bytes), never replaces an existing profile unless forced, and handles a
profile fitted on another basis: with answers it is refitted on the current basis (the user is told),
without answers it is refused, since its lambda means nothing in this basis."""

from __future__ import annotations

import sys
from dataclasses import dataclass, replace
from pathlib import Path

from prefchat.errors import PrefchatError
from prefchat.profiles.profile import Profile, check_name, parse_bytes
from prefchat.profiles.refit import PairDiffsFn, refit
from prefchat.fileio import atomic_write
from prefchat.profiles.store import ProfileStore, read_capped


def chat_answers(profile: Profile) -> int:
    """How many answers hold chat text (learn-from-choice: the user's prompt and two model replies)."""
    return sum(a.source == "chat" for a in profile.answers)


def export_bytes(profile: Profile, vector_only: bool = False, no_chat_text: bool = False) -> bytes:
    """vector_only: no answers at all. no_chat_text: drop the answers learned from chat (their raw
    prompts and replies); lambda and precision, which already include them, are kept as they are,
    and the onboarding answers still allow a refit on another basis (without the chat ones). The
    profile format stores answers as texts only, so there is no text-free form of a chat answer."""
    if vector_only:
        profile = replace(profile, answers=[])
    elif no_chat_text:
        profile = replace(profile, answers=[a for a in profile.answers if a.source != "chat"])
    return profile.to_bytes()


def export_to_file(profile: Profile, path: Path, vector_only: bool = False, force: bool = False,
                   no_chat_text: bool = False) -> Path:
    """Atomic and mode 0600 like the store: an export holds the same private answers."""
    path = Path(path)
    if path.is_dir():
        raise PrefchatError(f"{path} is a directory; give a file name with -o")
    try:
        atomic_write(path, export_bytes(profile, vector_only, no_chat_text), overwrite=force)
    except FileExistsError:
        raise PrefchatError(f"{path} already exists; pass --force to replace it") from None
    except OSError as exc:
        raise PrefchatError(f"cannot write {path} ({exc.strerror})") from None
    return path


@dataclass
class ImportResult:
    profile: Profile
    path: Path
    notes: list[str]


def read_profile_file(path: Path | str) -> Profile:
    """Read and validate an untrusted profile file ('-' is stdin)."""
    src = str(path)
    try:
        if src == "-":
            from prefchat.profiles.profile import MAX_FILE_BYTES

            data = sys.stdin.buffer.read(MAX_FILE_BYTES + 1)
            src = "<stdin>"
        else:
            data = read_capped(Path(path))
    except FileNotFoundError:
        raise PrefchatError(f"{src}: no such file") from None
    except IsADirectoryError:
        raise PrefchatError(f"{src}: is a directory, not a profile file") from None
    except OSError as exc:
        raise PrefchatError(f"{src}: cannot read ({exc.strerror or exc})") from None
    return parse_bytes(data, src)


def import_profile(store: ProfileStore, profile: Profile, basis, pair_diffs_fn: PairDiffsFn | None,
                   as_name: str | None = None, force: bool = False) -> ImportResult:
    """Store an already-validated profile under as_name (or its own name), reconciling its basis.

    basis: the basis this prefchat uses now. pair_diffs_fn: features for a refit; only called when the
    fingerprint differs and the profile has answers (it may load an encoder, so it is lazy)."""
    notes: list[str] = []
    name = check_name(as_name) if as_name is not None else profile.name
    profile = replace(profile, name=name)
    # Refuse early, before a possibly slow refit, if the name is taken (save re-checks atomically).
    if not force and store.exists(name):
        raise PrefchatError(f"a profile named '{name}' already exists; import with --as NEWNAME or "
                            "--force to replace it")
    if profile.basis.fingerprint == basis.fingerprint:
        if profile.basis.dims != basis.dims:
            raise PrefchatError(f"profile claims basis fingerprint {profile.basis.fingerprint} but has "
                                f"{profile.basis.dims} dims where that basis has {basis.dims}; the file "
                                "is inconsistent")
    elif profile.answers:
        if pair_diffs_fn is None:
            raise PrefchatError("profile needs a refit but no scorer is available")
        old = profile.basis.name
        profile = refit(profile, basis, pair_diffs_fn)
        notes.append(f"profile was fitted on another basis ('{old}'); refitted "
                     f"lambda on the current basis '{basis.name}' ({basis.dims} dims) from "
                     f"{len(profile.answers)} answers")
    else:
        raise PrefchatError(
            f"profile was fitted on a different basis ('{profile.basis.name}', "
            f"{profile.basis.fingerprint[:19]}...) than the current one ('{basis.name}', "
            f"{basis.fingerprint[:19]}...) and has no answers to refit from (vector-only export); "
            "ask for a full export, or use --basis with the matching basis")
    path = store.save(profile, overwrite=force)
    return ImportResult(profile, path, notes)


def import_file(store: ProfileStore, path: Path | str, basis, pair_diffs_fn: PairDiffsFn | None,
                as_name: str | None = None, force: bool = False) -> ImportResult:
    return import_profile(store, read_profile_file(path), basis, pair_diffs_fn, as_name, force)
