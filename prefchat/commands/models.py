"""`prefchat models list|pull NAME|add FILE`: a small registry of recommended GGUF files, downloaded
with a progress bar into <data dir>/models and checked against a sha256 before they are kept; or a
GGUF fetched some other way, added from disk (`add`: magic bytes checked, sha256 where known).

The download goes to NAME.part and is renamed only after the hash matches, so a cut connection or a
tampered mirror never leaves a file that looks usable. PREFCHAT_MODEL_REGISTRY may point at a JSON
file {name: {url, sha256, file, size, description}} that replaces the built-in list (mirrors, tests).
Only the standard library is used (urllib), so this works without the LLM extras."""

from __future__ import annotations

import hashlib
import json
import os
import re
import urllib.error
import urllib.request
from pathlib import Path
from typing import Optional

import typer

from prefchat.config import set_value
from prefchat.errors import PrefchatError
from prefchat.llm.gguf_info import is_x86
from prefchat.paths import data_dir, ensure_dir

app = typer.Typer(help="Recommended local models: list and download (sha256-checked).",
                  no_args_is_help=True)

# sha256: pin the Hugging Face LFS object id of the exact file here. The built-in entries are NOT
# pinned yet (no network where they were written, and an invented hash would fail every download):
# until they are, `pull` reads the expected hash from the hub's LFS pointer (`pointer` URL, a separate
# small request), which still catches truncated and corrupted downloads but trusts the hub; `add`
# can only check a hash the user passes (--sha256). `approx_size` is for people (printed when the hub
# cannot be reached), not checked.
REGISTRY = {
    "qwen2.5-0.5b-instruct-q8_0": {
        "url": "https://huggingface.co/Qwen/Qwen2.5-0.5B-Instruct-GGUF/resolve/main/"
               "qwen2.5-0.5b-instruct-q8_0.gguf",
        "file": "qwen2.5-0.5b-instruct-q8_0.gguf",
        "pointer": "https://huggingface.co/Qwen/Qwen2.5-0.5B-Instruct-GGUF/raw/main/"
                   "qwen2.5-0.5b-instruct-q8_0.gguf",
        "sha256": None,
        "approx_size": "about 676 MB",
        "description": "Qwen2.5 0.5B Instruct, Q8_0 (~676 MB): the smaller download",
    },
    "qwen2.5-0.5b-instruct-fp16": {
        "url": "https://huggingface.co/Qwen/Qwen2.5-0.5B-Instruct-GGUF/resolve/main/"
               "qwen2.5-0.5b-instruct-fp16.gguf",
        "file": "qwen2.5-0.5b-instruct-fp16.gguf",
        "pointer": "https://huggingface.co/Qwen/Qwen2.5-0.5B-Instruct-GGUF/raw/main/"
                   "qwen2.5-0.5b-instruct-fp16.gguf",
        "sha256": None,
        "approx_size": "about 1.3 GB",
        # On x86 llama.cpp runs several rows of F16 weights in a fast kernel and Q8_0 in a slow one,
        # so with prefchat's best-of-N this file is faster per chat turn than the Q8_0 one
        # (BENCHMARKS.md, "F16 weights").
        "description": "Qwen2.5 0.5B Instruct, F16 (~1.3 GB): unquantised, faster best-of-N on x86",
    },
    "qwen2.5-1.5b-instruct-q4_k_m": {
        "url": "https://huggingface.co/Qwen/Qwen2.5-1.5B-Instruct-GGUF/resolve/main/"
               "qwen2.5-1.5b-instruct-q4_k_m.gguf",
        "file": "qwen2.5-1.5b-instruct-q4_k_m.gguf",
        "pointer": "https://huggingface.co/Qwen/Qwen2.5-1.5B-Instruct-GGUF/raw/main/"
                   "qwen2.5-1.5b-instruct-q4_k_m.gguf",
        "sha256": None,
        "approx_size": "about 1.1 GB",
        "description": "Qwen2.5 1.5B Instruct, Q4_K_M (~1.1 GB): better replies, still CPU-friendly",
    },
}


class Unreachable(PrefchatError):
    """The hub (or mirror) did not answer: `pull` turns this into how to fetch the file by hand."""


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


# Which registry entry the set-up screens name first. Every reply is a best-of-N batch, and on x86
# llama.cpp runs several rows of Q8_0 weights in a slow kernel (best-of-4 ~3x one reply, against 1.5x
# for F16: BENCHMARKS.md, "F16 weights"), so there the F16 file is the faster chat for twice the
# download. On ARM llama.cpp repacks Q8_0 for a several-row kernel (not measured here): keep the
# smaller file.
RECOMMENDED = {"x86": "qwen2.5-0.5b-instruct-fp16", "other": "qwen2.5-0.5b-instruct-q8_0"}


def recommended(machine: str | None = None) -> tuple[str, dict]:
    """(name, entry) of the model to suggest on this machine: the per-architecture choice above when
    the registry has it, else the registry's first entry (a PREFCHAT_MODEL_REGISTRY file)."""
    reg = registry()
    name = RECOMMENDED["x86" if is_x86(machine) else "other"]
    if name in reg:
        return name, reg[name]
    return next(iter(reg.items()))


def models_dir() -> Path:
    return data_dir() / "models"


@app.command("list")
def list_() -> None:
    """Recommended models, their size and sha256 status, and whether each is downloaded."""
    d = models_dir()
    first, _ = recommended()
    for name, e in registry().items():
        have = (d / e["file"]).exists()
        mark = "  <- recommended here" if name == first else ""
        typer.echo(f"{'✓' if have else ' '} {name:<34} {e.get('description', '')}{mark}")
        pin = f"sha256 {e['sha256']}" if e.get("sha256") else \
            "sha256 not pinned (checked against the hub's LFS pointer when pulled)"
        typer.echo(f"  {'':<34} {pin}")
    typer.echo(f"\nFiles go to {d}. Use one with: prefchat models pull NAME --use "
               "(or, for a file you already have: prefchat models add FILE --use)")


def expected_sha256(entry: dict, timeout: float = 30.0) -> str:
    """The pinned hash, else the one in the hub's LFS pointer file ("oid sha256:HEX")."""
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
        raise Unreachable(f"cannot reach {url.split('/')[2]} ({getattr(exc, 'reason', exc)}); "
                          "are you offline?") from None
    m = re.search(r"oid sha256:([0-9a-f]{64})", text)
    if not m:
        raise PrefchatError(f"no sha256 in {url}; cannot verify the download, so it was not started")
    return m.group(1)


def download(url: str, dest: Path, sha256: str, size: Optional[int] = None, show=True,
             timeout: float = 30.0) -> Path:
    ensure_dir(dest.parent)
    part = dest.with_name(dest.name + ".part")
    h = hashlib.sha256()
    try:
        req = urllib.request.Request(url, headers={"User-Agent": "prefchat"})
        with urllib.request.urlopen(req, timeout=timeout) as resp, open(part, "wb") as out:
            total = int(resp.headers.get("Content-Length") or size or 0) or None
            from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn, TransferSpeedColumn

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
        raise Unreachable(f"cannot reach {url.split('/')[2] if '//' in url else url} ({reason}); "
                          "are you offline?") from None
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
        try:
            download(e["url"], dest, expected_sha256(e), e.get("size"))
        except Unreachable as exc:
            size = f" ({e['approx_size']}" if e.get("approx_size") else " ("
            pin = f"sha256 {e['sha256']}" if e.get("sha256") else "no pinned sha256"
            raise PrefchatError(f"{exc} Try again when connected, or fetch {e['url']}{size}; {pin}) "
                                "another way and run `prefchat models add FILE --use`") from None
        typer.echo(f"Downloaded and verified: {dest}")
    if set_default:
        use_model(dest)
    else:
        typer.echo(f"Use it: prefchat chat --model {dest}   (or `prefchat models pull {name} --use`)")


def use_model(path: Path) -> None:
    set_value("backend", "llama")
    set_value("model", str(path))
    typer.echo(f"Configured: backend = llama, model = {path}")


GGUF_MAGIC = b"GGUF"


@app.command("add")
def add(file: Path = typer.Argument(..., help="A GGUF file you downloaded yourself."),
        set_default: bool = typer.Option(False, "--use", help="Also make it the configured model."),
        sha256: Optional[str] = typer.Option(None, "--sha256",
                                             help="Expected sha256 (e.g. from the download page)."),
        force: bool = typer.Option(False, "--force", help="Replace a different file of that name.")
        ) -> None:
    """Add a GGUF from disk to the models folder (checked: GGUF header, sha256 where known)."""
    dest = add_model(file, sha256, force)
    if set_default:
        use_model(dest)
    else:
        typer.echo(f"Use it: prefchat models add {file} --use   (or prefchat chat --model {dest})")


def known_sha256(filename: str) -> Optional[str]:
    """The pinned sha256 of a registry file of this name, if any."""
    for e in registry().values():
        if e.get("file") == filename and e.get("sha256"):
            return str(e["sha256"]).lower()
    return None


def add_model(file: Path, sha256: Optional[str] = None, force: bool = False) -> Path:
    """Link (same file system) or copy `file` into models_dir() after checking it. Nothing is left in
    the models folder when a check fails."""
    src = Path(file).expanduser()
    if not src.is_file():
        raise PrefchatError(f"{src}: no such file")
    try:
        with open(src, "rb") as fh:
            head = fh.read(4)
    except OSError as exc:
        raise PrefchatError(f"{src}: cannot read ({exc.strerror})") from None
    if head != GGUF_MAGIC:
        raise PrefchatError(f"{src} is not a GGUF file (it starts with {head!r}, not b'GGUF'); "
                            "llama.cpp models end in .gguf")
    want = sha256.strip().lower() if sha256 else known_sha256(src.name)
    if want is not None and not re.fullmatch(r"[0-9a-f]{64}", want):
        raise PrefchatError(f"--sha256 {sha256!r}: expected 64 hex digits")
    got = file_sha256(src)
    if want is not None and got != want:
        raise PrefchatError(f"sha256 mismatch for {src}: expected {want[:16]}…, got {got[:16]}…; "
                            "not added (a corrupt or different file)")
    d = models_dir()
    dest = d / src.name
    if dest.exists():
        if dest.resolve() == src.resolve() or file_sha256(dest) == got:
            typer.echo(f"Already in the models folder: {dest}")
            return dest
        if not force:
            raise PrefchatError(f"{dest} exists and is a different file; pass --force to replace it")
    ensure_dir(d)
    part = dest.with_name(dest.name + ".part")
    part.unlink(missing_ok=True)
    try:
        try:
            os.link(src, part)  # same file system: no copy, no extra space
            how = "linked"
        except OSError:
            import shutil

            shutil.copyfile(src, part)
            how = "copied"
        os.replace(part, dest)
    except OSError as exc:
        part.unlink(missing_ok=True)
        raise PrefchatError(f"cannot add {src} to {d} ({exc.strerror})") from None
    check = "sha256 verified" if want else "no known sha256 to check against"
    typer.echo(f"Added ({how}): {dest}\n  sha256 {got} ({check})")
    return dest


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
