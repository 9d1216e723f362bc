"""`prefchat doctor`: what works and what does not, one line each, with the fix.

Fast on purpose (well under a second): it imports no torch, transformers or llama_cpp. Backends are
found with find_spec, the GPU with nvidia-smi, and torch's build from its installed metadata.
Exit 1 only for problems that break something configured; a state that is normal on a fresh
install (no model yet, no profile yet) is a warning."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import urllib.error
import urllib.request
from importlib import metadata

import typer

from prefchat.commands.models import recommended
from prefchat.errors import PrefchatError
from prefchat.llm import BACKEND_PACKAGES
from prefchat.llm.gguf_info import best_of_n_note, matrix_types
from prefchat.paths import config_path


def register(root: typer.Typer) -> None:
    root.command("doctor")(doctor)


def _line(ok: bool | None | str, what: str, detail: str = "") -> None:
    mark = {True: "✓", False: "✗", None: "·", "warn": "!"}[ok]
    typer.echo(f"{mark} {what}" + (f": {detail}" if detail else ""))


def doctor(timeout: float = typer.Option(3.0, "--timeout", help="Seconds to wait for the endpoint.")
           ) -> None:
    """Check GPU, backends, model files, basis, profiles and the configured endpoint."""
    problems = 0
    # config
    try:
        from prefchat.config import load_config

        cfg = load_config()
        _line(True, "config", f"{config_path()}{'' if config_path().exists() else ' (defaults)'}")
    except PrefchatError as exc:
        _line(False, "config", str(exc))
        return _finish(1)
    # backends importable (find_spec: no heavy import)
    # A missing library is a problem only for the configured backend; the others are optional.
    for kind, (mod, pip_name) in BACKEND_PACKAGES.items():
        if importlib.util.find_spec(mod) is not None:
            _line(True, f"backend {kind}", mod + " installed")
            continue
        needed = kind == cfg.backend
        problems += needed
        _line(False if needed else None, f"backend {kind}", f"{mod} missing: pip install {pip_name}"
              + ("" if needed else " (only if you switch to this backend)"))
    # GPU and torch, without importing torch (seconds)
    gpu, torch_build = _gpu(), _torch_build()
    if gpu:
        cpu_only = torch_build.endswith("(CPU build)")
        _line("warn" if cpu_only else True, "GPU", gpu + (f"; but {torch_build}: install a CUDA build of "
                                                          "torch to use it (README, GPU)" if cpu_only
                                                          else f"; {torch_build}"))
    else:
        _line(None, "GPU", f"none found (CPU only); {torch_build}")
    # model
    desc = f"backend={cfg.backend} model={cfg.model or '(none)'}"
    warnings = 0
    if not cfg.model:
        warnings += 1  # normal before the first download: chat says what to do, nothing is broken
        _line("warn", "model", f"none configured yet: `prefchat models pull {recommended()[0]} "
                               "--use`, or `prefchat models add FILE.gguf --use`")
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
            if good and cfg.n > 1:
                _best_of_n(p)
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
    _finish(problems, warnings)


def _best_of_n(path: str) -> None:
    """A note when the file's weight type makes best-of-N dear on this CPU (llm/gguf_info.py)."""
    try:
        note = best_of_n_note(matrix_types(path))
    except (OSError, ValueError) as exc:  # llama.cpp will say more when it loads the file
        note = f"header unreadable ({exc})"
    if note:
        _line(None, "best-of-N", note)


def _probe(url: str, key, timeout: float) -> tuple[bool, str]:
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {key}"} if key else {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return True, f"answers (HTTP {r.status})"
    except urllib.error.HTTPError as exc:
        hint = {401: " (check the API key)", 403: " (check the API key)", 429: " (rate limited)"}
        return exc.code == 404, f"HTTP {exc.code}{hint.get(exc.code, '')}"
    except (urllib.error.URLError, OSError) as exc:
        return False, f"does not answer ({getattr(exc, 'reason', exc)})"


def _gpu() -> str:
    """The NVIDIA GPUs nvidia-smi lists ("" when none or no driver)."""
    exe = shutil.which("nvidia-smi")
    if not exe:
        return ""
    try:
        out = subprocess.run([exe, "-L"], capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return ""
    names = [ln.split(":", 1)[1].split("(")[0].strip() for ln in out.stdout.splitlines()
             if ln.startswith("GPU ") and ":" in ln]
    return ", ".join(names)


def _torch_build() -> str:
    """torch's version and build, from its installed metadata (importing torch takes seconds)."""
    try:
        version = metadata.version("torch")
        requires = metadata.requires("torch") or []
    except metadata.PackageNotFoundError:
        return "torch not installed"
    if "+cpu" in version:
        return f"torch {version} (CPU build)"
    if "+cu" in version or "+rocm" in version or any(r.startswith(("nvidia-", "cuda-")) for r in requires):
        return f"torch {version} (GPU build)"
    return f"torch {version}"


def _finish(problems: int, warnings: int = 0) -> None:
    note = f" ({warnings} warning{'s' if warnings != 1 else ''}, marked !)" if warnings else ""
    typer.echo(f"\nAll good{note}." if not problems else f"\n{problems} problem(s) found{note}.")
    if problems:
        raise typer.Exit(1)
