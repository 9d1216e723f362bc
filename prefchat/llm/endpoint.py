"""Where an OpenAI-compatible request goes and which API key (if any) goes with it. One function,
used by the backend, the config (`config show`) and `doctor`, so they can never disagree.

Base URL: the explicit one (--base-url / config / PREFCHAT_BASE_URL, which config folds in), then
$OPENAI_BASE_URL, then a local llama.cpp server on port 8080.

Key, first that applies:
  1. an explicit key (Config.endpoint passes $PREFCHAT_API_KEY, else the config file's `api_key`;
     code may pass one),
  2. $PREFCHAT_API_KEY: meant for prefchat, sent to whatever endpoint prefchat is configured for,
  3. $OPENAI_API_KEY: only to api.openai.com. A key for OpenAI must never leak to a custom or local
     server just because it happens to be in the environment.

Plain http: a key is never sent over http to a host that is not loopback (127.0.0.0/8, ::1,
localhost): anyone on the path could read it. The config key `allow_insecure_http = true` lifts this
for a trusted network. Nothing here imports openai, so `doctor` and `config show` stay cheap."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from typing import Mapping, Optional
from urllib.parse import urlsplit

from prefchat.errors import PrefchatError

DEFAULT_BASE_URL = "http://127.0.0.1:8080/v1"
OPENAI_HOSTS = ("api.openai.com",)


@dataclass(frozen=True)
class Endpoint:
    base_url: str
    api_key: Optional[str]
    key_source: Optional[str]   # "config api_key" | "PREFCHAT_API_KEY" | "OPENAI_API_KEY" | None
    note: str = ""              # why a key that is set is not sent (for doctor)

    def describe_key(self) -> str:
        """'api key ****abcd from PREFCHAT_API_KEY' / 'no api key' (+ note): for doctor."""
        s = (f"api key {mask(self.api_key)} from {self.key_source}" if self.api_key
             else "no api key")
        return s + (f" ({self.note})" if self.note else "")


def mask(secret: str) -> str:
    """A key as doctor shows it: its last four characters at most."""
    return "****" + secret[-4:] if len(secret) > 8 else "****"


def host_of(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


def is_loopback(host: str) -> bool:
    if host in ("localhost", "localhost.localdomain") or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def resolve(base_url: Optional[str] = None, api_key: Optional[str] = None,
            allow_insecure_http: bool = False, env: Optional[Mapping[str, str]] = None,
            check: bool = True, key_source: Optional[str] = None) -> Endpoint:
    """The endpoint and key for a request. check=True raises PrefchatError when a key would go
    over plain http to a non-loopback host (doctor passes check=False to report it instead)."""
    env = os.environ if env is None else env
    url = (base_url or env.get("PREFCHAT_BASE_URL") or env.get("OPENAI_BASE_URL")
           or DEFAULT_BASE_URL).rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise PrefchatError(f"base URL {url!r} is not an http(s) URL like "
                            "https://api.example.com/v1")
    host = parts.hostname.lower()
    note = ""
    if api_key:
        key, source = api_key, key_source or "the api_key option"
    elif env.get("PREFCHAT_API_KEY"):
        key, source = env["PREFCHAT_API_KEY"], "PREFCHAT_API_KEY"
    elif env.get("OPENAI_API_KEY") and host in OPENAI_HOSTS:
        key, source = env["OPENAI_API_KEY"], "OPENAI_API_KEY"
    else:
        key, source = None, None
        if env.get("OPENAI_API_KEY"):
            note = (f"OPENAI_API_KEY is set but is only sent to api.openai.com; for {host} set "
                    "PREFCHAT_API_KEY or api_key in the config")
    if key and parts.scheme == "http" and not is_loopback(host) and not allow_insecure_http:
        msg = (f"refusing to send the API key ({source}) over plain http to {host}: anyone on the "
               "network could read it; use an https URL, or set allow_insecure_http = true in the "
               "config if this network is trusted")
        if check:
            raise PrefchatError(msg)
        return Endpoint(url, None, None, msg)
    return Endpoint(url, key, source, note)
