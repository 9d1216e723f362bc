"""Chat history in SQLite: <data dir>/history.sqlite3 (PREFCHAT_HOME aware).

Schema changes go through MIGRATIONS (index = PRAGMA user_version), so an old file upgrades in place
instead of being thrown away. Each assistant message keeps every ranked candidate with its score, so
the alternatives can be shown again after a resume. API keys are never stored: a conversation records
the backend kind and model name only."""

from __future__ import annotations

import json
import os
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from prefchat.errors import PrefchatError

DB_NAME = "history.sqlite3"

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
    from prefchat.profiles.model import now_iso

    return now_iso()


def default_path() -> Path:
    from prefchat.profiles.store import data_dir

    return data_dir() / DB_NAME


class History:
    def __init__(self, path: Optional[Path | str] = None) -> None:
        self.path = Path(path) if path is not None else default_path()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            new = not self.path.exists()
            self.db = sqlite3.connect(str(self.path), check_same_thread=False, timeout=10)
            if new:
                os.chmod(self.path, 0o600)
            self.db.execute("PRAGMA foreign_keys = ON")
            self._migrate()
        except sqlite3.DatabaseError as exc:
            raise PrefchatError(f"{self.path}: chat history unreadable ({exc}); move it aside to "
                                "start a fresh history") from None
        except OSError as exc:
            raise PrefchatError(f"cannot open chat history {self.path} ({exc.strerror}); check "
                                "permissions or set PREFCHAT_HOME") from None

    def _migrate(self) -> None:
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        if version > len(MIGRATIONS):
            raise PrefchatError(f"{self.path}: written by a newer prefchat (schema {version}); "
                                "upgrade prefchat")
        for i in range(version, len(MIGRATIONS)):
            with self.db:
                self.db.executescript(MIGRATIONS[i])
                self.db.execute(f"PRAGMA user_version = {i + 1}")

    def close(self) -> None:
        self.db.close()

    # -- conversations ----------------------------------------------------------------------------

    def create(self, title: str = "", system_prompt: str = "", profile: Optional[str] = None,
               backend: Optional[str] = None, model: Optional[str] = None) -> int:
        ts = _now()
        with self.db:
            cur = self.db.execute(
                "INSERT INTO conversations (title, system_prompt, profile, backend, model, created_at,"
                " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (title, system_prompt, profile, backend, model, ts, ts))
        return int(cur.lastrowid)

    def update(self, conv_id: int, **fields_) -> None:
        allowed = {"title", "system_prompt", "profile", "backend", "model"}
        bad = set(fields_) - allowed
        if bad:
            raise ValueError(f"cannot update {bad}")
        if not fields_:
            return
        sets = ", ".join(f"{k} = ?" for k in fields_)
        with self.db:
            self.db.execute(f"UPDATE conversations SET {sets}, updated_at = ? WHERE id = ?",
                            (*fields_.values(), _now(), conv_id))

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
        return [Conversation(*r[:8], n_messages=r[8]) for r in self.db.execute(q, args)]

    def get(self, conv_id: int) -> Conversation:
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
        with self.db:
            cur = self.db.execute("DELETE FROM conversations WHERE id = ?", (conv_id,))
        if cur.rowcount == 0:
            raise PrefchatError(f"no conversation with id {conv_id} (see `prefchat history list`)")

    # -- messages ---------------------------------------------------------------------------------

    def add_message(self, conv_id: int, msg: Message) -> int:
        with self.db:
            seq = self.db.execute("SELECT COALESCE(MAX(seq), -1) + 1 FROM messages WHERE "
                                  "conversation_id = ?", (conv_id,)).fetchone()[0]
            cur = self.db.execute(
                "INSERT INTO messages (conversation_id, seq, role, content, candidates, chosen, meta,"
                " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (conv_id, seq, msg.role, msg.content,
                 json.dumps(msg.candidates) if msg.candidates else None, msg.chosen,
                 json.dumps(msg.meta) if msg.meta else None, _now()))
            self.db.execute("UPDATE conversations SET updated_at = ? WHERE id = ?", (_now(), conv_id))
        msg.id = int(cur.lastrowid)
        return msg.id

    def update_message(self, msg: Message) -> None:
        with self.db:
            self.db.execute("UPDATE messages SET content = ?, chosen = ?, candidates = ?, meta = ? "
                            "WHERE id = ?",
                            (msg.content, msg.chosen,
                             json.dumps(msg.candidates) if msg.candidates else None,
                             json.dumps(msg.meta) if msg.meta else None, msg.id))

    def delete_message(self, msg_id: int) -> None:
        with self.db:
            self.db.execute("DELETE FROM messages WHERE id = ?", (msg_id,))


def export_markdown(conv: Conversation) -> str:
    """A readable Markdown transcript. `parse_markdown` reads it back (round trip of roles, text and
    system prompt)."""
    out = [f"# {conv.title or 'Conversation ' + str(conv.id)}", ""]
    out.append(f"<!-- prefchat conversation {conv.id}; created {conv.created_at}; "
               f"backend {conv.backend or '-'}; model {conv.model or '-'}; "
               f"profile {conv.profile or '-'} -->")
    out.append("")
    if conv.system_prompt:
        out += ["## System", "", conv.system_prompt, ""]
    for m in conv.messages:
        out += [f"## {'You' if m.role == 'user' else 'Assistant'}", "", m.content, ""]
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
