"""The one way lanectl opens its SQLite stores (budgets, response cache).

WAL mode (readers never wait for the writer), a long busy timeout, and one
connection per thread. Switching a new file to WAL needs a moment of exclusive
access, which SQLite refuses at once (no busy wait) when another process is
opening the same file: that step is retried. Every change is one
``BEGIN IMMEDIATE`` transaction.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from lanectl.errors import LaneError

BUSY_TIMEOUT_S = 60.0
OPEN_RETRY_S = 10.0


class Store:
    """A SQLite file shared by threads and processes; subclasses add the queries."""

    def __init__(self, path: Path, what: str, schema: str) -> None:
        self.path = path
        self.what = what
        self._local = threading.local()
        path.parent.mkdir(parents=True, exist_ok=True)
        with self.tx() as db:
            for statement in schema.split(";"):
                if statement.strip():
                    db.execute(statement)

    def _db(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
            db.row_factory = sqlite3.Row
            db.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
            deadline = time.monotonic() + OPEN_RETRY_S
            while True:
                try:
                    db.execute("PRAGMA journal_mode = WAL")
                    break
                except sqlite3.OperationalError as exc:
                    if time.monotonic() > deadline:
                        db.close()
                        raise self._unusable(exc) from None
                    time.sleep(0.01)
            db.execute("PRAGMA synchronous = NORMAL")
            self._local.db = db
        return db

    def _unusable(self, exc: Exception) -> LaneError:
        return LaneError(
            f"the {self.what} {self.path} is locked or unreadable ({exc})",
            hint="check for a stuck lanectl process; deleting the file loses only "
            f"what the {self.what} remembers",
        )

    @contextmanager
    def tx(self, write: bool = True) -> Iterator[sqlite3.Connection]:
        db = self._db()
        try:
            db.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        except sqlite3.OperationalError as exc:
            raise self._unusable(exc) from None
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None
