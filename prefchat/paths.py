"""Every directory prefchat reads or writes, in one place.

This module is the only reader of the three location variables:

    PREFCHAT_HOME    user data: profiles, settings.json, history.sqlite3, downloaded models
                     (default: platformdirs' user_data_dir("prefchat"))
    PREFCHAT_CACHE   recomputable files: encoder features, benchmark models
                     (default: platformdirs' user_cache_dir("prefchat"))
    PREFCHAT_CONFIG  the config file itself (default: user_config_dir("prefchat")/config.toml)

and of where the shipped files live: the basis directories (models/), the example profiles
(profiles/) and the style corpus (prefchat/data/). In a checkout or an editable install models/ and
profiles/ sit next to the package; a wheel install carries them under <prefix>/share/prefchat.

Nothing here creates a directory as a side effect of asking for its path: writers call ensure_dir."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from platformdirs import user_cache_dir, user_config_dir, user_data_dir

HOME_ENV = "PREFCHAT_HOME"
CACHE_ENV = "PREFCHAT_CACHE"
CONFIG_ENV = "PREFCHAT_CONFIG"
APP = "prefchat"

PACKAGE_DIR = Path(__file__).resolve().parent
CHECKOUT_DIR = PACKAGE_DIR.parent  # the repository root, or site-packages for a wheel install


def _env_path(name: str) -> Path | None:
    value = os.environ.get(name)
    return Path(value).expanduser() if value else None


def data_dir() -> Path:
    """User data (profiles, settings, history)."""
    return _env_path(HOME_ENV) or Path(user_data_dir(APP))


def cache_dir() -> Path:
    """Files prefchat can rebuild: deleting this directory costs time, never data."""
    return _env_path(CACHE_ENV) or Path(user_cache_dir(APP))


def features_cache_dir() -> Path:
    """Encoder features, content-addressed: <dir>/<encoder identity hash>/<text hash>.npy."""
    return cache_dir() / "features"


def bench_cache_dir() -> Path:
    """Random-weight models that `prefchat bench` builds once and reuses."""
    return cache_dir() / "bench"


def config_path() -> Path:
    """The config file (PREFCHAT_CONFIG names the file, not a directory)."""
    return _env_path(CONFIG_ENV) or Path(user_config_dir(APP)) / "config.toml"


def _shipped(name: str) -> Path:
    for cand in (CHECKOUT_DIR / name, Path(sys.prefix) / "share" / APP / name):
        if cand.is_dir():
            return cand
    return CHECKOUT_DIR / name


def shipped_models_dir() -> Path:
    """The shipped basis directories (models/style-v1, ...)."""
    return _shipped("models")


def shipped_profiles_dir() -> Path:
    """The example profiles (profiles/*.json)."""
    return _shipped("profiles")


def shipped_data_dir() -> Path:
    """Package data: the style corpus and its stored split."""
    return PACKAGE_DIR / "data"


def shipped_corpus_path() -> Path:
    return shipped_data_dir() / "style_corpus.jsonl"


def ensure_dir(path: str | os.PathLike, mode: int = 0o700) -> Path:
    """Create path and any missing parents with `mode` (private by default: these directories hold
    a person's profiles, history and keys) and return it. Existing directories keep their mode."""
    path = Path(path)
    missing = []
    p = path
    while not p.exists() and p != p.parent:
        missing.append(p)
        p = p.parent
    for d in reversed(missing):
        try:
            d.mkdir(mode=mode)
        except FileExistsError:  # another process made it between the check and the mkdir
            continue
        os.chmod(d, mode)  # mkdir's mode is filtered by the umask; the mode asked for is the promise
    if not path.is_dir():
        raise NotADirectoryError(path)
    return path
