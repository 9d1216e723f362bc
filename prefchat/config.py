"""User configuration: one small TOML file, read on demand (never at import time).

    path   $PREFCHAT_CONFIG, else platformdirs.user_config_dir('prefchat')/config.toml
    keys   backend, model, base_url, api_key, n, temperature, max_tokens, system_prompt,
           learn_from_choices, allow_insecure_http, [keymap]
    env    PREFCHAT_BACKEND, PREFCHAT_MODEL, PREFCHAT_BASE_URL, PREFCHAT_N override the file;
           which API key goes to which URL: prefchat/llm/endpoint.py (the file's api_key, then
           PREFCHAT_API_KEY; OPENAI_API_KEY only to api.openai.com)

Why so strict: a typo ("temprature = 0.2") that is silently ignored is worse than an error, so unknown
keys and wrong types are refused, and every problem is one line naming the file and the line. Nothing
here raises anything but PrefchatError for a bad file, so the TUI never starts with a traceback.

Writing is done by hand (the file is flat plus one [keymap] table), so there is no extra dependency;
`config set` rewrites the file, which drops comments (said in its help)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Optional

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the same parser from PyPI (a conditional dependency)
    import tomli as tomllib

from prefchat.errors import PrefchatError
from prefchat.fileio import atomic_write
from prefchat.generation.strategies import STRATEGIES
from prefchat.keynames import NAMED_KEYS, valid_key_name
from prefchat.llm import BACKEND_KINDS, canonical_kind, make_backend
from prefchat.llm.endpoint import mask, resolve
from prefchat.paths import config_path, ensure_dir

BACKENDS = BACKEND_KINDS  # names and aliases live in prefchat.llm (canonical_kind)

# action -> comma-separated Textual key names. Defaults avoid keys terminals swallow (ctrl+s/q flow
# control, ctrl+h = backspace) and keep Enter = send, as users of chat apps expect.
# Newline: ctrl+j is LF in every terminal. Alt+Enter is not offered: terminals send it as ESC CR,
# which Textual reads as plain Enter (so it sent the message). Shift+Enter is a distinct key only
# where the terminal reports it (kitty keyboard protocol, xterm modifyOtherKeys); elsewhere it is
# Enter, so it is bound but not advertised first.
DEFAULT_KEYMAP = {
    "send": "enter",
    "newline": "ctrl+j,shift+enter",
    "editor": "ctrl+e",
    "cancel": "escape",
    "alternatives": "ctrl+o",
    "regenerate": "ctrl+r",
    "copy": "ctrl+y",
    "system_prompt": "ctrl+t",
    "history": "f2",
    "new": "ctrl+n",
    "help": "f1",
}

_TYPES: dict[str, type] = {"backend": str, "model": str, "base_url": str, "api_key": str, "n": int,
                           "temperature": float, "max_tokens": int, "system_prompt": str,
                           "learn_from_choices": bool, "allow_insecure_http": bool, "keymap": dict}
_TYPES["candidates"] = str  # candidate strategy (auto | plain | card | styled); see Config
MAX_TOKENS_LIMIT = 32768  # no backend here has a longer context; a bigger value is a typo

_ENV = {"backend": "PREFCHAT_BACKEND", "model": "PREFCHAT_MODEL", "base_url": "PREFCHAT_BASE_URL",
        "n": "PREFCHAT_N"}


@dataclass
class Config:
    backend: str = "llama"
    model: str = ""
    base_url: str = ""
    api_key: str = ""
    n: int = 4
    temperature: float = 0.8
    max_tokens: int = 512
    system_prompt: str = ""
    learn_from_choices: bool = True
    allow_insecure_http: bool = False  # allow sending an API key over http to a non-loopback host
    # candidate strategy: plain | card | styled, or auto (the measured default with a profile,
    # plain without one); see prefchat/generation/strategies.py
    candidates: str = "auto"
    keymap: dict = field(default_factory=lambda: dict(DEFAULT_KEYMAP))
    path: Optional[Path] = None          # the file read (None: no file, defaults only)
    origin: dict = field(default_factory=dict)  # key -> "default" | "file" | "env NAME"

    def endpoint(self, check: bool = False):
        """Where an openai-backend request goes and which key goes with it (llm/endpoint.py:
        the one place that decides)."""
        # The environment's prefchat key wins over the file (keys belong in the environment or a
        # secret store); OPENAI_API_KEY is left to resolve(), which only sends it to OpenAI.
        if os.environ.get("PREFCHAT_API_KEY"):
            key, src = os.environ["PREFCHAT_API_KEY"], "PREFCHAT_API_KEY"
        elif self.api_key:
            key, src = self.api_key, f"api_key in {self.path or 'the config'}"
        else:
            key, src = None, None
        return resolve(self.base_url or None, key, self.allow_insecure_http, check=check,
                       key_source=src)

    def resolved_api_key(self) -> Optional[str]:
        """The key an openai-backend request to the configured URL would carry (None: none)."""
        try:
            return self.endpoint().api_key
        except PrefchatError:
            return None

    def backend_options(self) -> dict:
        """Options for prefchat.llm.make_backend for this config's backend. The key goes to the
        backend object only; it is never written to profiles, history or logs. The backend
        resolves OPENAI_API_KEY itself (same function, same rule)."""
        if self.backend == "openai":
            opts: dict[str, Any] = {}
            if self.base_url:
                opts["base_url"] = self.base_url
            ep = self.endpoint(check=True)  # refuses a key over http to a remote host
            if ep.api_key and ep.key_source != "OPENAI_API_KEY":
                opts["api_key"] = ep.api_key
                opts["api_key_source"] = ep.key_source
            if self.allow_insecure_http:
                opts["allow_insecure_http"] = True
            return opts
        return {}  # llama and hf take no options from the config

    def public_dict(self) -> dict:
        """All settings with the API key masked: what `config show` and `doctor` print."""
        d = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("path", "origin")}
        key = self.resolved_api_key()
        d["api_key"] = mask(key) if key else ""
        return d


def _line_of(text: str, key: str, table: Optional[str] = None) -> int:
    """1-based line where `key =` is set (inside [table] when given); 0 when not found."""
    current = None
    pat = re.compile(r'^\s*("?)' + re.escape(key) + r'\1\s*=')
    for no, line in enumerate(text.splitlines(), 1):
        s = line.strip()
        m = re.match(r"^\[\s*([^\]]+?)\s*\]", s)
        if m:
            current = m.group(1).strip('"')
            continue
        if current == table and pat.match(line):
            return no
        if table is None and current is None and pat.match(line):
            return no
    return 0


def _where(path: Path, text: str, key: str, table: Optional[str] = None) -> str:
    line = _line_of(text, key, table)
    return f"{path}, line {line}" if line else str(path)


def _check_value(key: str, value: Any, where: str) -> Any:
    want = _TYPES[key]
    if want is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if want is int and isinstance(value, bool) or not isinstance(value, want):
        raise PrefchatError(f"{where}: '{key}' must be {_type_word(want)}, not {value!r}")
    if key == "backend":
        if canonical_kind(value) is None:
            raise PrefchatError(f"{where}: backend must be one of {', '.join(BACKENDS)}, not {value!r}")
        value = canonical_kind(value)  # "llama.cpp", "gguf", "transformers", ... as make_backend reads them
    if key == "n" and not 1 <= value <= 64:
        raise PrefchatError(f"{where}: 'n' must be between 1 and 64, not {value}")
    if key == "max_tokens" and not 1 <= value <= MAX_TOKENS_LIMIT:
        raise PrefchatError(f"{where}: 'max_tokens' must be between 1 and {MAX_TOKENS_LIMIT}, "
                            f"not {value}")
    if key == "temperature" and not 0 <= value <= 5:
        raise PrefchatError(f"{where}: 'temperature' must be between 0 and 5, not {value}")
    if key == "candidates" and value not in candidate_strategies():
        raise PrefchatError(f"{where}: 'candidates' must be one of "
                            f"{', '.join(candidate_strategies())}, not {value!r}")
    return value


def candidate_strategies() -> tuple[str, ...]:
    """Values of the `candidates` key: "auto" plus the strategies generation offers."""
    return ("auto",) + tuple(STRATEGIES)


def _type_word(t: type) -> str:
    return {str: "a string", int: "an integer", float: "a number", bool: "true or false",
            dict: "a table"}[t]


def _check_keymap(km: dict, path: Path, text: str) -> dict:
    out = dict(DEFAULT_KEYMAP)
    for action, keys in km.items():
        where = _where(path, text, action, "keymap")
        if action not in DEFAULT_KEYMAP:
            raise PrefchatError(f"{where}: unknown keymap action '{action}'; valid: "
                                f"{', '.join(DEFAULT_KEYMAP)}")
        if not isinstance(keys, str) or not keys.strip():
            raise PrefchatError(f"{where}: keymap.{action} must be a string of key names like "
                                f"\"ctrl+r\" (comma-separated for several)")
        names = [k.strip() for k in keys.split(",") if k.strip()]
        for name in names:
            if not valid_key_name(name):
                raise PrefchatError(
                    f"{where}: keymap.{action}: {name!r} is not a key name; use a named key "
                    f"({', '.join(sorted(NAMED_KEYS - {f'f{i}' for i in range(2, 25)}))}, f1-f24), "
                    "a single character, or modifiers joined with '+' like \"ctrl+r\", "
                    "\"alt+enter\", \"shift+f2\"")
        out[action] = ",".join(names)
    return out


def read_file(path: Path) -> tuple[dict, str]:
    """The raw table and text of a config file ({} and "" when it does not exist)."""
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        return {}, ""
    except UnicodeDecodeError:
        raise PrefchatError(f"{path}: not UTF-8 text; fix or delete the file") from None
    except OSError as exc:
        raise PrefchatError(f"{path}: cannot read ({exc.strerror})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        msg = str(exc)
        m = re.search(r"\(at line (\d+), column (\d+)\)", msg)
        if m:
            msg = msg[: m.start()].strip()
            raise PrefchatError(f"{path}, line {m.group(1)}: invalid TOML ({msg}); fix it or run "
                                "`prefchat config set KEY VALUE`") from None
        raise PrefchatError(f"{path}: invalid TOML ({msg})") from None
    return data, text


def load_config(path: Optional[Path] = None, env: Optional[dict] = None) -> Config:
    env = os.environ if env is None else env
    path = Path(path) if path is not None else config_path()
    data, text = read_file(path)
    cfg = Config(path=path if text or path.exists() else None)
    cfg.origin = {k: "default" for k in _TYPES}
    for key, value in data.items():
        where = _where(path, text, key)
        if key not in _TYPES:
            raise PrefchatError(f"{where}: unknown key '{key}'; valid keys: {', '.join(_TYPES)}")
        if key == "keymap":
            if not isinstance(value, dict):
                raise PrefchatError(f"{where}: 'keymap' must be a table ([keymap])")
            cfg.keymap = _check_keymap(value, path, text)
        else:
            setattr(cfg, key, _check_value(key, value, where))
        cfg.origin[key] = "file"
    for key, var in _ENV.items():
        raw = env.get(var)
        if raw:
            setattr(cfg, key, parse_value(key, raw, f"environment variable {var}"))
            cfg.origin[key] = f"env {var}"
    if not cfg.api_key and env.get("PREFCHAT_API_KEY"):
        cfg.origin["api_key"] = "env PREFCHAT_API_KEY"
    return cfg


def parse_value(key: str, raw: str, where: str) -> Any:
    """A command-line / environment string as the key's type."""
    if key not in _TYPES or key == "keymap":
        raise PrefchatError(f"unknown key '{key}'; valid keys: "
                            f"{', '.join(k for k in _TYPES if k != 'keymap')}, keymap.ACTION")
    want = _TYPES[key]
    value: Any = raw
    try:
        if want is int:
            value = int(raw)
        elif want is float:
            value = float(raw)
        elif want is bool:
            low = raw.strip().lower()
            if low not in ("true", "false", "1", "0", "yes", "no", "on", "off"):
                raise ValueError
            value = low in ("true", "1", "yes", "on")
    except ValueError:
        raise PrefchatError(f"{where}: '{key}' must be {_type_word(want)}, not {raw!r}") from None
    return _check_value(key, value, where)


# --- writing ----------------------------------------------------------------------------------------

def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    s = str(v)
    out = []
    for ch in s:
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def dumps(data: dict) -> str:
    lines = ["# prefchat configuration (see `prefchat config show`)"]
    for k, v in data.items():
        if not isinstance(v, dict):
            lines.append(f"{k} = {_toml_value(v)}")
    for k, v in data.items():
        if isinstance(v, dict):
            lines.append("")
            lines.append(f"[{k}]")
            lines.extend(f"{kk} = {_toml_value(vv)}" for kk, vv in v.items())
    return "\n".join(lines) + "\n"


def show_toml(cfg: Config, path: Path) -> str:
    """`config show`: every setting as valid TOML (a comment says where each value comes from), so
    the output can be pasted into the config file as it is. The API key is masked."""
    lines = [f"# {path}{'' if path.exists() else ' (not created yet: defaults)'}"]
    for key, value in cfg.public_dict().items():
        if key != "keymap":
            lines.append(f"{key} = {_toml_value(value)}    # {cfg.origin.get(key, 'default')}")
    lines += ["", "[keymap]"]
    lines += [f"{action} = {_toml_value(keys)}" for action, keys in cfg.keymap.items()]
    return "\n".join(lines) + "\n"


def set_value(key: str, raw: str, path: Optional[Path] = None) -> Path:
    """Validate and write one key (keymap.ACTION for key bindings). The file is rewritten atomically
    with mode 0600 (it may hold an API key)."""
    path = Path(path) if path is not None else config_path()
    data, _ = read_file(path)
    if key.startswith("keymap."):
        action = key.split(".", 1)[1]
        km = data.get("keymap") if isinstance(data.get("keymap"), dict) else {}
        km = dict(km)
        km[action] = raw
        _check_keymap(km, Path("command line"), "")
        data["keymap"] = km
    else:
        data[key] = parse_value(key, raw, "command line")
    text = dumps(data)
    try:
        ensure_dir(path.parent)
        atomic_write(path, text.encode("utf-8"))
        os.chmod(path, 0o600)
    except OSError as exc:
        raise PrefchatError(f"cannot write {path} ({exc.strerror})") from None
    load_config(path, env={})  # the file we wrote must read back
    return path


def build_backend(cfg: Config, **overrides):
    """The configured backend, not loaded. Raises PrefchatError with the fix when unconfigured."""
    if not cfg.model:
        raise PrefchatError("no model configured: pass --model PATH-or-ID, set PREFCHAT_MODEL, or run "
                            "`prefchat config set model PATH` (`prefchat models pull` fetches one)")
    opts = cfg.backend_options()
    opts.update(overrides)
    return make_backend(cfg.backend, cfg.model, **opts)
