"""`prefchat doctor`: what works and what does not, one line each, with the fix."""

from __future__ import annotations

import importlib.util
import os

import typer


def register(root: typer.Typer) -> None:
    root.command("doctor")(doctor)


def _line(ok: bool | None, what: str, detail: str = "") -> None:
    mark = {True: "✓", False: "✗", None: "·"}[ok]
    typer.echo(f"{mark} {what}" + (f": {detail}" if detail else ""))


def doctor(timeout: float = typer.Option(3.0, "--timeout", help="Seconds to wait for the endpoint.")
           ) -> None:
    """Check GPU, backends, model files, basis, profiles and the configured endpoint."""
    from prefchat.errors import PrefchatError

    problems = 0
    # config
    try:
        from prefchat.config import config_path, load_config

        cfg = load_config()
        _line(True, "config", f"{config_path()}{'' if config_path().exists() else ' (defaults)'}")
    except PrefchatError as exc:
        _line(False, "config", str(exc))
        return _finish(1)
    # backends importable (find_spec: no heavy import)
    for mod, kind in (("llama_cpp", "llama"), ("transformers", "hf"), ("openai", "openai")):
        ok = importlib.util.find_spec(mod) is not None
        _line(ok, f"backend {kind}", mod + (" installed" if ok else " missing: pip install " + mod))
    # GPU
    try:
        import torch

        if torch.cuda.is_available():
            _line(True, "GPU", torch.cuda.get_device_name(0))
        else:
            _line(None, "GPU", "none (CPU only; the scorer and hf backend run on CPU)")
    except Exception as exc:  # noqa: BLE001
        _line(None, "GPU", f"torch unavailable ({exc})")
    # model
    desc = f"backend={cfg.backend} model={cfg.model or '(none)'}"
    if not cfg.model:
        problems += 1
        _line(False, "model", "none configured: `prefchat models pull qwen2.5-0.5b-instruct-q8_0 --use`")
    elif cfg.backend == "llama":
        p = os.path.expanduser(cfg.model)
        if not os.path.isfile(p):
            problems += 1
            _line(False, "model", f"{p} not found")
        else:
            with open(p, "rb") as fh:
                good = fh.read(4) == b"GGUF"
            problems += not good
            _line(good, "model", f"{p} ({os.path.getsize(p) / 1e6:.0f} MB)" if good else
                  f"{p} is not a GGUF file")
    elif cfg.backend == "hf":
        _line(None, "model", desc + (" (local dir)" if os.path.isdir(cfg.model) else " (hub id)"))
    else:
        # The same resolution the backend uses (llm/endpoint.py): doctor sends exactly the key a
        # chat would send, to the same URL, and says which one it is, masked.
        try:
            ep = cfg.endpoint(check=False)
        except PrefchatError as exc:
            problems += 1
            _line(False, "endpoint", str(exc))
        else:
            ok, detail = _probe(ep.base_url + "/models", ep.api_key, timeout)
            refused = not ep.api_key and "refusing" in ep.note
            problems += (not ok) + refused
            _line(ok and not refused, "endpoint", f"{ep.base_url} {detail}; {ep.describe_key()}")
    # basis and profiles
    try:
        from prefchat.basis import load_basis

        basis = load_basis()
        _line(True, "basis", f"{basis.name} (J={basis.dims}) at {basis.path}")
    except PrefchatError as exc:
        basis = None
        problems += 1
        _line(False, "basis", str(exc))
    try:
        from prefchat.profiles.store import ProfileStore

        store = ProfileStore()
        good, bad = store.list()
        default = store.get_default()
        for p in good:
            ok = basis is None or p.basis.fingerprint == basis.fingerprint
            problems += not ok
            _line(ok, f"profile {p.name}" + (" (default)" if p.name == default else ""),
                  f"{len(p.answers)} answers" + ("" if ok else f"; other basis: `prefchat profile "
                                                               f"refit {p.name}`"))
        for b in bad:
            problems += 1
            _line(False, f"profile file {b.path.name}", b.reason)
        if not good and not bad:
            _line(None, "profiles", "none yet: `prefchat onboard` (chat works unpersonalised)")
    except PrefchatError as exc:
        problems += 1
        _line(False, "profiles", str(exc))
    try:
        from prefchat.chat.history import History

        h = History()
        _line(True, "history", f"{h.path} ({len(h.list())} conversations)")
    except PrefchatError as exc:
        problems += 1
        _line(False, "history", str(exc))
    _finish(problems)


def _probe(url: str, key, timeout: float) -> tuple[bool, str]:
    import urllib.error
    import urllib.request

    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {key}"} if key else {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return True, f"answers (HTTP {r.status})"
    except urllib.error.HTTPError as exc:
        hint = {401: " (check the API key)", 403: " (check the API key)", 429: " (rate limited)"}
        return exc.code == 404, f"HTTP {exc.code}{hint.get(exc.code, '')}"
    except (urllib.error.URLError, OSError) as exc:
        return False, f"does not answer ({getattr(exc, 'reason', exc)})"


def _finish(problems: int) -> None:
    typer.echo("\nAll good." if not problems else f"\n{problems} problem(s) found.")
    if problems:
        raise typer.Exit(1)
