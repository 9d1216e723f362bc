"""`prefchat rank`: score replies written anywhere by a person's taste (lambda . phi), behind the same
guard as chat.

Input is JSON Lines, {"prompt": "...", "responses": ["...", ...]} per line, from a file or stdin. The
whole input is read and checked before the scorer loads (seconds), so a bad line fails fast with one
line naming it, and nothing is half printed."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer

from prefchat.basis import load_basis
from prefchat.paths import shipped_models_dir
from prefchat.errors import PrefchatError
from prefchat.profiles.store import ProfileStore
from prefchat.rerank import Reranker
from prefchat.textsafe import one_line

MAX_INPUT_BYTES = 64 * 1024 * 1024
MAX_RESPONSES = 64
PREVIEW = 100

HELP = """Rank replies by your profile's taste.

Reads JSON Lines from FILE (or stdin when FILE is omitted or '-'), one
{"prompt": "...", "responses": ["...", "..."]} object per line (other keys are ignored; blank lines
are skipped). Prints each line's responses ranked, best first, with scores.

The guard chat uses screens every line first: empty, wordless, looping and off-topic responses are
dropped. They are listed after the kept ones with the reason and never rank first.

--json prints one JSON object per input line, in input order:
{"scores": [s1, s2, ...], "dropped": {"2": "reason", ...}}. scores follow the order of "responses";
a dropped response's score is null (so the best response is always the largest number), and
"dropped" maps its 1-based position to the reason ({} when none was dropped)."""


def register(app: typer.Typer) -> None:
    app.command("rank", help=HELP)(rank)


def preview(text: str, width: int = PREVIEW) -> str:
    """One printable line of at most `width` characters (model text: cleaned of escape sequences)."""
    return one_line(text, width)


def parse_lines(raw: bytes, source: str) -> list[tuple[int, str, list[str]]]:
    """(line number, prompt, responses) per non-blank line; the first problem is a PrefchatError."""
    if len(raw) > MAX_INPUT_BYTES:
        raise PrefchatError(f"{source}: input is larger than {MAX_INPUT_BYTES >> 20} MiB; split it")
    out = []
    for ln, line in enumerate(raw.split(b"\n"), 1):
        if not line.strip():
            continue
        where = f"{source}:{ln}"
        try:
            obj = json.loads(line.decode("utf-8"))
        except UnicodeDecodeError:
            raise PrefchatError(f"{where}: not UTF-8 text") from None
        except json.JSONDecodeError as exc:
            raise PrefchatError(f"{where}: invalid JSON ({exc.msg}); each line is "
                                '{"prompt": "...", "responses": ["...", ...]}') from None
        if not isinstance(obj, dict):
            raise PrefchatError(f'{where}: expected an object {{"prompt": ..., "responses": [...]}}, '
                                f"got {type(obj).__name__}")
        prompt, resp = obj.get("prompt"), obj.get("responses")
        if not isinstance(prompt, str):
            raise PrefchatError(f'{where}: "prompt" must be a string')
        if not isinstance(resp, list) or not resp:
            raise PrefchatError(f'{where}: "responses" must be a non-empty list of strings')
        bad = next((i for i, r in enumerate(resp, 1) if not isinstance(r, str)), None)
        if bad is not None:
            raise PrefchatError(f'{where}: response {bad} is {type(resp[bad - 1]).__name__}, not a string')
        if len(resp) > MAX_RESPONSES:
            raise PrefchatError(f"{where}: {len(resp)} responses; at most {MAX_RESPONSES} per line")
        out.append((ln, prompt, resp))
    return out


def _load_profile_and_basis(profile: Optional[str], basis: Optional[str]):
    store = ProfileStore()
    name = profile or store.get_default()
    if not name:
        raise PrefchatError("no profile to rank with: pass --profile NAME, or make one with `prefchat onboard`")
    prof = store.load(name)
    if basis:
        return prof, load_basis(basis)
    try:
        b = load_basis(shipped_models_dir() / prof.basis.name)
        if b.fingerprint == prof.basis.fingerprint:
            return prof, b
    except PrefchatError:
        pass
    return prof, load_basis(None)


def rank(
    file: Optional[str] = typer.Argument(None, help="JSON Lines file ('-' or omitted: stdin)."),
    profile: Optional[str] = typer.Option(None, "--profile", "-p", help="Profile (default: the default one)."),
    basis: Optional[str] = typer.Option(None, "--basis", help="Basis name or directory (default: the profile's)."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per input line (see above)."),
) -> None:
    if file is None or file == "-":
        raw, source = sys.stdin.buffer.read(MAX_INPUT_BYTES + 1), "stdin"
    else:
        try:
            with open(file, "rb") as fh:
                raw = fh.read(MAX_INPUT_BYTES + 1)
        except OSError as exc:
            raise PrefchatError(f"{file}: cannot read ({exc.strerror or exc})") from None
        source = str(Path(file))
    items = parse_lines(raw, source)

    prof, b = _load_profile_and_basis(profile, basis)
    rr = Reranker(b, prof)
    for ln, prompt, responses in items:
        res = rr.rerank(prompt, responses)
        if as_json:
            scores = [None] * len(responses)
            dropped = {}
            for r in res.ranked:
                if r.ok:
                    scores[r.index] = r.score
                else:
                    dropped[str(r.index + 1)] = r.reason
            typer.echo(json.dumps({"scores": scores, "dropped": dict(sorted(dropped.items(), key=lambda kv: int(kv[0])))}))
            continue
        typer.echo(f"line {ln} · {preview(prompt, 70)}")
        for r in res.ranked:
            head = f"  {r.rank + 1}." if r.ok else "   -"
            typer.echo(f"{head} response {r.index + 1}  score {r.score:+.3f}  {preview(r.text)}")
            if not r.ok:
                typer.echo(f"       dropped: {preview(r.reason or '', 120)}")
            elif r.reason:
                typer.echo(f"       note: {preview(r.reason, 120)}")
        if res.why_text:
            typer.echo(f"  why 1st: {res.why_text}")
