"""Chat history in SQLite: <data dir>/history.sqlite3 (PREFCHAT_HOME aware).

Schema changes go through MIGRATIONS (index = PRAGMA user_version), so an old file upgrades in place
instead of being thrown away. Each assistant message keeps every ranked candidate with its score, so
the alternatives can be shown again after a resume. API keys are never stored: a conversation records
the backend kind and model name only.

Faults: every operation turns sqlite3 errors into a one-line HistoryError that says what happened
(locked by another program, unreadable, disk full, read-only) and what to do; only real corruption
suggests moving the file aside. The busy timeout is short (BUSY_TIMEOUT_S) because the chat writes
history on the UI thread: a lock held elsewhere must cost a moment, not a frozen screen.

`tolerant=True` (the chat): a failed write records `problem` and turns later writes into no-ops
instead of raising, so the conversation goes on in memory and the app can say once that it is not
being saved. A half-saved conversation would be worse than an unsaved one, so writes stay off until
`resume_saving()` (a new conversation)."""

from __future__ import annotations

import json
import os
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from prefchat.errors import PrefchatError
from prefchat.paths import data_dir, ensure_dir
from prefchat.profiles.profile import now_iso
from prefchat.textsafe import visible

DB_NAME = "history.sqlite3"
BUSY_TIMEOUT_S = 1.5

MIGRATIONS = [
    """
    CREATE TABLE conversations (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        title TEXT NOT NULL DEFAULT '',
        system_prompt TEXT NOT NULL DEFAULT '',
        profile TEXT,
        backend TEXT,
        model TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE TABLE messages (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
        seq INTEGER NOT NULL,
        role TEXT NOT NULL,
        content TEXT NOT NULL,
        candidates TEXT,          -- JSON [{"index", "text", "score"}] best first, assistant only
        chosen INTEGER,           -- candidate index shown as the reply
        meta TEXT,                -- JSON: tokens/s, seconds, rerank seconds, n
        created_at TEXT NOT NULL
    );
    CREATE INDEX messages_conv ON messages(conversation_id, seq);
    """,
]


@dataclass
class Message:
    role: str
    content: str
    candidates: list[dict] = field(default_factory=list)
    chosen: Optional[int] = None
    meta: dict = field(default_factory=dict)
    id: Optional[int] = None


@dataclass
class Conversation:
    id: int
    title: str
    system_prompt: str
    profile: Optional[str]
    backend: Optional[str]
    model: Optional[str]
    created_at: str
    updated_at: str
    messages: list[Message] = field(default_factory=list)
    n_messages: int = 0


def _now() -> str:
    return now_iso()


def default_path() -> Path:
    return data_dir() / DB_NAME


class HistoryError(PrefchatError):
    """A history operation failed; `kind` is locked | unreadable | full | readonly | other."""

    def __init__(self, message: str, kind: str = "other") -> None:
        super().__init__(message)
        self.kind = kind


# What the chat's notice says for each kind ("history is locked: this conversation is not saved").
KIND_WORDS = {"locked": "history is locked", "unreadable": "history is unreadable",
              "full": "disk full", "readonly": "history is read-only", "other": "history failed"}


def describe_error(exc: BaseException, path: Path) -> HistoryError:
    """One line for a sqlite3 (or OS) error on the history file, with the fix that fits it."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    text = " ".join(str(exc).split())
    low = text.lower()
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "locked" in low:
        return HistoryError(f"{path}: chat history is locked by another program (another prefchat, "
                            "or a tool holding the file open); close it and try again", "locked")
    if name.startswith("SQLITE_FULL") or "disk is full" in low or getattr(exc, "errno", None) == 28:
        return HistoryError(f"{path}: the disk is full, so chat history cannot be written; free "
                            "some space", "full")
    if name.startswith("SQLITE_READONLY") or "readonly" in low or "read-only" in low:
        return HistoryError(f"{path}: chat history is read-only ({text}); check the file's "
                            "permissions or set PREFCHAT_HOME", "readonly")
    if name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")) or "malformed" in low or \
            "not a database" in low:
        return HistoryError(f"{path}: chat history is unreadable ({text}); move the file aside "
                            "to start a fresh history (your profiles are not affected)", "unreadable")
    if name.startswith("SQLITE_CANTOPEN") or isinstance(exc, OSError):
        why = getattr(exc, "strerror", None) or text
        return HistoryError(f"cannot open chat history {path} ({why}); check permissions or set "
                            "PREFCHAT_HOME", "other")
    return HistoryError(f"{path}: chat history error ({text})", "other")


class History:
    def __init__(self, path: Optional[Path | str] = None, tolerant: bool = False) -> None:
        self.path = Path(path) if path is not None else default_path()
        self.tolerant = tolerant
        self.problem: Optional[HistoryError] = None  # set when a write failed (tolerant mode)
        self.db: Optional[sqlite3.Connection] = None
        try:
            self._open()
        except HistoryError as exc:
            if not tolerant:
                raise
            self.problem = exc

    def _open(self) -> None:
        try:
            ensure_dir(self.path.parent)
            new = not self.path.exists()
            self.db = sqlite3.connect(str(self.path), check_same_thread=False,
                                      timeout=BUSY_TIMEOUT_S)
            if new:
                os.chmod(self.path, 0o600)
            self.db.execute("PRAGMA foreign_keys = ON")
            self._migrate()
        except HistoryError:
            self._close_quietly()
            raise
        except (sqlite3.Error, OSError) as exc:
            self._close_quietly()
            raise describe_error(exc, self.path) from None

    def _close_quietly(self) -> None:
        if self.db is not None:
            try:
                self.db.close()
            except sqlite3.Error:
                pass
            self.db = None

    def _migrate(self) -> None:
        """Apply the pending MIGRATIONS and the new user_version in ONE transaction: a crash, a full
        disk or a lock half-way leaves the file exactly as it was (SQLite DDL is transactional;
        executescript would commit on its own, so statements run one by one)."""
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        if version > len(MIGRATIONS):
            raise HistoryError(f"{self.path}: written by a newer prefchat (schema {version}); "
                               "upgrade prefchat")
        if version == len(MIGRATIONS):
            return
        self.db.isolation_level = None  # manual transaction control
        try:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                # Re-read under the write lock: another process may have migrated meanwhile.
                version = self.db.execute("PRAGMA user_version").fetchone()[0]
                for i in range(version, len(MIGRATIONS)):
                    for stmt in _statements(MIGRATIONS[i]):
                        self.db.execute(stmt)
                self.db.execute(f"PRAGMA user_version = {len(MIGRATIONS)}")
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
        finally:
            self.db.isolation_level = ""

    def close(self) -> None:
        self._close_quietly()

    # -- fault handling -----------------------------------------------------------------------------

    def _read(self, fn):
        if self.db is None:
            raise self.problem or HistoryError(f"{self.path}: chat history is closed")
        try:
            return fn()
        except sqlite3.Error as exc:
            raise describe_error(exc, self.path) from None

    def _write(self, fn):
        """Run a write. Tolerant mode: after a failure, skip (return None) instead of raising."""
        if self.tolerant and self.problem is not None:
            return None
        try:
            return self._read(fn)
        except HistoryError as exc:
            if not self.tolerant:
                raise
            self.problem = exc
            return None

    def resume_saving(self) -> None:
        """Tolerant mode: try writing again (a new conversation). Reopens a history that failed
        to open."""
        self.problem = None
        if self.db is None:
            try:
                self._open()
            except HistoryError as exc:
                self.problem = exc

    # -- conversations ----------------------------------------------------------------------------

    def create(self, title: str = "", system_prompt: str = "", profile: Optional[str] = None,
               backend: Optional[str] = None, model: Optional[str] = None) -> int:
        ts = _now()

        def run():
            with self.db:
                cur = self.db.execute(
                    "INSERT INTO conversations (title, system_prompt, profile, backend, model, "
                    "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (title, system_prompt, profile, backend, model, ts, ts))
            return int(cur.lastrowid)
        return self._write(run)

    def update(self, conv_id: int, **fields_) -> None:
        allowed = {"title", "system_prompt", "profile", "backend", "model"}
        bad = set(fields_) - allowed
        if bad:
            raise ValueError(f"cannot update {bad}")
        if not fields_:
            return
        sets = ", ".join(f"{k} = ?" for k in fields_)

        def run():
            with self.db:
                self.db.execute(f"UPDATE conversations SET {sets}, updated_at = ? WHERE id = ?",
                                (*fields_.values(), _now(), conv_id))
        self._write(run)

    def list(self, search: Optional[str] = None) -> list[Conversation]:
        q = ("SELECT c.id, c.title, c.system_prompt, c.profile, c.backend, c.model, c.created_at, "
             "c.updated_at, (SELECT COUNT(*) FROM messages m WHERE m.conversation_id = c.id) "
             "FROM conversations c")
        args: tuple = ()
        if search:
            q += (" WHERE c.title LIKE ? OR EXISTS (SELECT 1 FROM messages m WHERE "
                  "m.conversation_id = c.id AND m.content LIKE ?)")
            args = (f"%{search}%", f"%{search}%")
        q += " ORDER BY c.updated_at DESC, c.id DESC"
        return self._read(lambda: [Conversation(*r[:8], n_messages=r[8])
                                   for r in self.db.execute(q, args)])

    def get(self, conv_id: int) -> Conversation:
        return self._read(lambda: self._get(conv_id))

    def _get(self, conv_id: int) -> Conversation:
        row = self.db.execute(
            "SELECT id, title, system_prompt, profile, backend, model, created_at, updated_at "
            "FROM conversations WHERE id = ?", (conv_id,)).fetchone()
        if row is None:
            raise PrefchatError(f"no conversation with id {conv_id} (see `prefchat history list`)")
        conv = Conversation(*row)
        for mid, role, content, cands, chosen, meta in self.db.execute(
                "SELECT id, role, content, candidates, chosen, meta FROM messages "
                "WHERE conversation_id = ? ORDER BY seq", (conv_id,)):
            conv.messages.append(Message(role, content, json.loads(cands) if cands else [], chosen,
                                         json.loads(meta) if meta else {}, mid))
        conv.n_messages = len(conv.messages)
        return conv

    def delete(self, conv_id: int) -> None:
        def run():
            with self.db:
                return self.db.execute("DELETE FROM conversations WHERE id = ?", (conv_id,)).rowcount
        if self._write(run) == 0 and not self.tolerant:
            raise PrefchatError(f"no conversation with id {conv_id} (see `prefchat history list`)")

    # -- messages ---------------------------------------------------------------------------------

    def add_message(self, conv_id: Optional[int], msg: Message) -> Optional[int]:
        if conv_id is None:  # tolerant mode: the conversation itself could not be created
            return None

        def run():
            with self.db:
                seq = self.db.execute("SELECT COALESCE(MAX(seq), -1) + 1 FROM messages WHERE "
                                      "conversation_id = ?", (conv_id,)).fetchone()[0]
                cur = self.db.execute(
                    "INSERT INTO messages (conversation_id, seq, role, content, candidates, chosen,"
                    " meta, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (conv_id, seq, msg.role, msg.content,
                     json.dumps(msg.candidates) if msg.candidates else None, msg.chosen,
                     json.dumps(msg.meta) if msg.meta else None, _now()))
                self.db.execute("UPDATE conversations SET updated_at = ? WHERE id = ?",
                                (_now(), conv_id))
            return int(cur.lastrowid)
        msg.id = self._write(run)
        return msg.id

    def update_message(self, msg: Message) -> None:
        def run():
            with self.db:
                self.db.execute("UPDATE messages SET content = ?, chosen = ?, candidates = ?, "
                                "meta = ? WHERE id = ?",
                                (msg.content, msg.chosen,
                                 json.dumps(msg.candidates) if msg.candidates else None,
                                 json.dumps(msg.meta) if msg.meta else None, msg.id))
        self._write(run)

    def delete_message(self, msg_id: int) -> None:
        def run():
            with self.db:
                self.db.execute("DELETE FROM messages WHERE id = ?", (msg_id,))
        self._write(run)


def _statements(script: str) -> list[str]:
    """A migration script split into complete SQL statements (sqlite3.complete_statement decides,
    so a ';' inside a string or trigger body does not split it)."""
    out, buf = [], ""
    for line in script.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            if buf.strip():
                out.append(buf.strip())
            buf = ""
    if buf.strip():
        out.append(buf.strip())
    return out


def export_markdown(conv: Conversation, safe=None) -> str:
    """A readable Markdown transcript. `parse_markdown` reads it back (round trip of roles, text and
    system prompt). `safe` is applied to every stored text (textsafe.visible for an export,
    textsafe.clean for the terminal); default: textsafe.visible, so control characters a model sent
    are spelled out, never sent to whoever cats the file."""
    safe = safe or visible
    out = [f"# {safe(conv.title) or 'Conversation ' + str(conv.id)}", ""]
    out.append(f"<!-- prefchat conversation {conv.id}; created {conv.created_at}; "
               f"backend {safe(conv.backend or '-')}; model {safe(conv.model or '-')}; "
               f"profile {safe(conv.profile or '-')} -->")
    out.append("")
    if conv.system_prompt:
        out += ["## System", "", safe(conv.system_prompt), ""]
    for m in conv.messages:
        out += [f"## {'You' if m.role == 'user' else 'Assistant'}", "", safe(m.content), ""]
    return "\n".join(out).rstrip() + "\n"


def parse_markdown(text: str) -> tuple[str, str, list[tuple[str, str]]]:
    """(title, system_prompt, [(role, content)]) from export_markdown's output."""
    lines = text.splitlines()
    title = lines[0][2:] if lines and lines[0].startswith("# ") else ""
    sections: list[tuple[str, list[str]]] = []
    for line in lines[1:]:
        if line in ("## System", "## You", "## Assistant"):
            sections.append((line[3:], []))
        elif sections:
            sections[-1][1].append(line)
    system, msgs = "", []
    for head, body in sections:
        content = "\n".join(body).strip("\n")
        if head == "System":
            system = content
        else:
            msgs.append(("user" if head == "You" else "assistant", content))
    return title, system, msgs
