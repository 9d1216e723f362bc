"""`prefchat models list|pull NAME`: a small registry of recommended GGUF files, downloaded with a
progress bar into <data dir>/models and checked against a pinned sha256 before they are kept.

The download goes to NAME.part and is renamed only after the hash matches, so a cut connection or a
tampered mirror never leaves a file that looks usable. PREFCHAT_MODEL_REGISTRY may point at a JSON
file {name: {url, sha256, file, size, description}} that replaces the built-in list (mirrors, tests).
Only the standard library is used (urllib), so this works without the LLM extras."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Optional

import typer

from prefchat.errors import PrefchatError

app = typer.Typer(help="Recommended local models: list and download (sha256-checked).",
                  no_args_is_help=True)

# sha256: pin the Hugging Face LFS object id of the exact file here. The built-in entries are NOT
# pinned yet (no network where they were written, and an invented hash would fail every download):
# until they are, `pull` reads the expected hash from the hub's LFS pointer (`pointer` URL, a separate
# small request), which still catches truncated and corrupted downloads but trusts the hub.
REGISTRY = {
    "qwen2.5-0.5b-instruct-q8_0": {
        "url": "https://huggingface.co/Qwen/Qwen2.5-0.5B-Instruct-GGUF/resolve/main/"
               "qwen2.5-0.5b-instruct-q8_0.gguf",
        "file": "qwen2.5-0.5b-instruct-q8_0.gguf",
        "pointer": "https://huggingface.co/Qwen/Qwen2.5-0.5B-Instruct-GGUF/raw/main/"
                   "qwen2.5-0.5b-instruct-q8_0.gguf",
        "sha256": None,
        "description": "Qwen2.5 0.5B Instruct, Q8_0 (~675 MB): fast on CPU, good for best-of-N",
    },
    "qwen2.5-1.5b-instruct-q4_k_m": {
        "url": "https://huggingface.co/Qwen/Qwen2.5-1.5B-Instruct-GGUF/resolve/main/"
               "qwen2.5-1.5b-instruct-q4_k_m.gguf",
        "file": "qwen2.5-1.5b-instruct-q4_k_m.gguf",
        "pointer": "https://huggingface.co/Qwen/Qwen2.5-1.5B-Instruct-GGUF/raw/main/"
                   "qwen2.5-1.5b-instruct-q4_k_m.gguf",
        "sha256": None,
        "description": "Qwen2.5 1.5B Instruct, Q4_K_M (~1.1 GB): better replies, still CPU-friendly",
    },
}


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="models")


def registry() -> dict:
    path = os.environ.get("PREFCHAT_MODEL_REGISTRY")
    if not path:
        return REGISTRY
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise PrefchatError(f"{path}: model registry unreadable ({exc})") from None
    if not isinstance(data, dict) or not all(isinstance(v, dict) and {"url", "file"} <= set(v)
                                             and (v.get("sha256") or v.get("pointer"))
                                             for v in data.values()):
        raise PrefchatError(f"{path}: each entry needs url, file and sha256 (or pointer)")
    return data


def models_dir() -> Path:
    from prefchat.profiles.store import data_dir

    return data_dir() / "models"


@app.command("list")
def list_() -> None:
    """Recommended models and whether each is downloaded."""
    d = models_dir()
    for name, e in registry().items():
        have = (d / e["file"]).exists()
        typer.echo(f"{'✓' if have else ' '} {name:<34} {e.get('description', '')}")
    typer.echo(f"\nFiles go to {d}. Use one with: prefchat config set model {d}/FILE")


def expected_sha256(entry: dict, timeout: float = 30.0) -> str:
    """The pinned hash, else the one in the hub's LFS pointer file ("oid sha256:HEX")."""
    import re
    import urllib.error
    import urllib.request

    if entry.get("sha256"):
        return str(entry["sha256"]).lower()
    url = entry["pointer"]
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers={"User-Agent": "prefchat"}),
                                    timeout=timeout) as r:
            text = r.read(4096).decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        raise PrefchatError(f"cannot get the checksum: HTTP {exc.code} from {url}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise PrefchatError(f"cannot reach {url.split('/')[2]} ({getattr(exc, 'reason', exc)}); "
                            "are you offline? Try again when connected") from None
    m = re.search(r"oid sha256:([0-9a-f]{64})", text)
    if not m:
        raise PrefchatError(f"no sha256 in {url}; cannot verify the download, so it was not started")
    return m.group(1)


def download(url: str, dest: Path, sha256: str, size: Optional[int] = None, show=True,
             timeout: float = 30.0) -> Path:
    import urllib.error
    import urllib.request

    from prefchat.profiles.store import make_private_dirs

    make_private_dirs(dest.parent)
    part = dest.with_name(dest.name + ".part")
    h = hashlib.sha256()
    try:
        req = urllib.request.Request(url, headers={"User-Agent": "prefchat"})
        with urllib.request.urlopen(req, timeout=timeout) as resp, open(part, "wb") as out:
            total = int(resp.headers.get("Content-Length") or size or 0) or None
            from rich.progress import (BarColumn, DownloadColumn, Progress, TimeRemainingColumn,
                                       TransferSpeedColumn)

            with Progress("[progress.description]{task.description}", BarColumn(), DownloadColumn(),
                          TransferSpeedColumn(), TimeRemainingColumn(), disable=not show,
                          transient=False) as prog:
                task = prog.add_task(dest.name, total=total)
                while True:
                    chunk = resp.read(1 << 20)
                    if not chunk:
                        break
                    out.write(chunk)
                    h.update(chunk)
                    prog.update(task, advance=len(chunk))
    except urllib.error.HTTPError as exc:
        part.unlink(missing_ok=True)
        raise PrefchatError(f"download failed: HTTP {exc.code} from {url}") from None
    except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as exc:
        part.unlink(missing_ok=True)
        reason = getattr(exc, "reason", None) or exc
        raise PrefchatError(f"cannot reach {url.split('/')[2] if '//' in url else url} ({reason}); "
                            "are you offline? Try again when connected, or copy the file by hand "
                            "and `prefchat config set model PATH`") from None
    got = h.hexdigest()
    if got != sha256.lower():
        part.unlink(missing_ok=True)
        raise PrefchatError(f"sha256 mismatch for {dest.name}: expected {sha256[:16]}…, got "
                            f"{got[:16]}…; the download was deleted (corrupt or tampered mirror)")
    os.replace(part, dest)
    return dest


@app.command("pull")
def pull(name: str = typer.Argument(..., help="Registry name (see `prefchat models list`)."),
         set_default: bool = typer.Option(False, "--use", help="Also make it the configured model."),
         force: bool = typer.Option(False, "--force", help="Download again even if present.")) -> None:
    """Download a recommended GGUF, check its sha256, and print how to use it."""
    reg = registry()
    if name not in reg:
        raise PrefchatError(f"unknown model '{name}'; choose one of: {', '.join(reg)}")
    e = reg[name]
    dest = models_dir() / e["file"]
    if dest.exists() and not force:
        typer.echo(f"Already downloaded: {dest}")
    else:
        download(e["url"], dest, expected_sha256(e), e.get("size"))
        typer.echo(f"Downloaded and verified: {dest}")
    if set_default:
        from prefchat.config import set_value

        set_value("backend", "llama")
        set_value("model", str(dest))
        typer.echo("Configured: backend = llama, model = " + str(dest))
    else:
        typer.echo(f"Use it: prefchat chat --model {dest}   (or `prefchat models pull {name} --use`)")
