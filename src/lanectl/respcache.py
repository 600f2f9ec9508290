"""Answer identical requests from a local cache: a hit sends nothing (ADR 0021).

The key is a sha256 over the whole request as the vendor would see it
(provider and endpoint, model, system prompt, messages, tools, max_tokens and
every parameter), never the credential and never the stream flag. Entries live
in SQLite under the git common dir (``<common>/lanectl/responses.sqlite``),
expire after ``cache.max_age_days``, and can be evicted one by one (an answer
that turned out unusable) or all at once. Hits and misses are counted.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from lanectl.providers.base import Request, StopReason, ToolCall, Turn, Usage
from lanectl.sqlitedb import Store

KEY_VERSION = 1  # bump to invalidate every entry when the key or the entry format changes
STORE_NAME = "responses.sqlite"
SCHEMA = """
CREATE TABLE IF NOT EXISTS entry (
  key TEXT PRIMARY KEY, created REAL NOT NULL, provider TEXT NOT NULL, model TEXT NOT NULL,
  turn TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS counter (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


def request_key(provider_identity: str, request: Request) -> str:
    """The cache key: everything that can change the answer, nothing that cannot."""
    body = asdict(request)
    body.pop("stream")
    payload = {"v": KEY_VERSION, "provider": provider_identity, **body}
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=repr)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _encode(turn: Turn) -> str:
    return json.dumps(
        {
            "text": turn.text,
            "tool_calls": [
                {"id": c.id, "name": c.name, "arguments": dict(c.arguments)}
                for c in turn.tool_calls
            ],
            "stop_reason": turn.stop_reason,
            "usage": turn.usage.as_dict(),
            "model": turn.model,
            "request_id": turn.request_id,
        },
        separators=(",", ":"),
        default=repr,
    )


def _decode(text: str) -> Turn:
    data: dict[str, Any] = json.loads(text)
    stop: StopReason = data["stop_reason"]
    return Turn(
        text=str(data["text"]),
        tool_calls=tuple(
            ToolCall(str(c["id"]), str(c["name"]), dict(c["arguments"])) for c in data["tool_calls"]
        ),
        stop_reason=stop,
        usage=Usage(**{k: int(v) for k, v in data["usage"].items()}),
        model=str(data.get("model") or ""),
        request_id=data.get("request_id"),
        cached=True,
        attempts=0,
    )


class ResponseCache(Store):
    """Thread-safe; one SQLite connection per thread."""

    def __init__(self, path: Path, *, max_age_days: float = 30.0) -> None:
        self.max_age_s = max_age_days * 86400.0
        super().__init__(path, "response cache", SCHEMA)

    def _bump(self, db: sqlite3.Connection, name: str) -> None:
        db.execute(
            "INSERT INTO counter VALUES (?, 1) ON CONFLICT (name) DO UPDATE SET value = value + 1",
            (name,),
        )

    def get(self, key: str) -> Turn | None:
        """The cached turn for ``key`` (counted as a hit), or None (counted as a miss)."""
        with self.tx() as db:
            row = db.execute("SELECT created, turn FROM entry WHERE key = ?", (key,)).fetchone()
            if row is not None and time.time() - row[0] > self.max_age_s:
                db.execute("DELETE FROM entry WHERE key = ?", (key,))
                row = None
            turn = None
            if row is not None:
                try:
                    turn = _decode(row[1])
                except (ValueError, KeyError, TypeError):
                    db.execute("DELETE FROM entry WHERE key = ?", (key,))  # damaged: forget it
            self._bump(db, "hits" if turn is not None else "misses")
        return turn

    def put(self, key: str, provider: str, turn: Turn) -> None:
        with self.tx() as db:
            db.execute(
                "INSERT OR REPLACE INTO entry VALUES (?, ?, ?, ?, ?)",
                (key, time.time(), provider, turn.model, _encode(turn)),
            )

    def evict(self, key: str) -> bool:
        """Forget one answer (e.g. it could not be parsed); True if there was one."""
        with self.tx() as db:
            return db.execute("DELETE FROM entry WHERE key = ?", (key,)).rowcount > 0

    def clear(self) -> int:
        with self.tx() as db:
            return int(db.execute("DELETE FROM entry").rowcount)

    def sweep(self) -> int:
        """Delete expired entries; returns how many."""
        with self.tx() as db:
            cutoff = time.time() - self.max_age_s
            return int(db.execute("DELETE FROM entry WHERE created < ?", (cutoff,)).rowcount)

    def stats(self) -> dict[str, int]:
        with self.tx() as db:
            counts = dict(db.execute("SELECT name, value FROM counter").fetchall())
            entries = db.execute("SELECT COUNT(*) FROM entry").fetchone()[0]
        return {
            "hits": int(counts.get("hits", 0)),
            "misses": int(counts.get("misses", 0)),
            "entries": int(entries),
        }
