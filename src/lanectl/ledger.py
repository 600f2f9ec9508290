"""The ledger: append-only, hash-chained JSONL, one writer per file (ADR 0004).

Every feature records events through :func:`record`; nothing else writes
ledger files. Each line is a JSON object (also valid YAML flow style) whose
``prev`` is the sha256 of the previous line's bytes in the same file, so an
edited or removed line breaks the chain at a place ``audit`` can name.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lanectl import ids
from lanectl.errors import LaneError

if TYPE_CHECKING:
    from lanectl.state import Change

RESULTS = ("ok", "blocked", "refused", "error")
FIELD_ORDER = (
    "id", "ts", "actor", "role", "kind", "task", "head",
    "attempted", "result", "reason", "data", "prev",
)  # fmt: skip
REQUIRED = ("id", "ts", "actor", "role", "kind", "result")
MAX_LINE_BYTES = 256 * 1024
_KIND = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")


@dataclass(frozen=True)
class Problem:
    path: str
    line: int
    message: str
    torn: bool = False

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


def now_ts() -> str:
    now = datetime.now(UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


def line_hash(line: bytes) -> str:
    return "sha256:" + hashlib.sha256(line).hexdigest()


def encode(event: dict[str, Any]) -> bytes:
    ordered = {k: event[k] for k in FIELD_ORDER if event.get(k) is not None or k == "prev"}
    text = json.dumps(ordered, ensure_ascii=True, separators=(", ", ": "), sort_keys=False)
    return text.encode("ascii")


def file_for(log_dir: Path, writer: str, ts: str) -> Path:
    return log_dir / ts[:7] / f"{writer}.jsonl"


def _last_line(fd: int, size: int) -> bytes | None:
    """The last complete line of an open file; raises if the tail is torn."""
    if size == 0:
        return None
    chunk = min(size, MAX_LINE_BYTES + 1)
    os.lseek(fd, size - chunk, os.SEEK_SET)
    tail = os.read(fd, chunk)
    if not tail.endswith(b"\n"):
        raise LaneError(
            "the ledger file ends in a torn line (a crash mid-write)",
            hint="run `lanectl audit` to see it and `lanectl audit --repair` to cut it off",
        )
    body = tail[:-1]
    start = body.rfind(b"\n")
    if start < 0 and chunk < size:
        raise LaneError("the last ledger line is longer than the limit")
    return body[start + 1 :]


def check_tail(path: Path) -> None:
    """Raise if ``path`` ends in a torn line, before a command writes anything."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return
    try:
        _last_line(fd, os.fstat(fd).st_size)
    except LaneError as exc:
        exc.where = str(path)
        raise
    finally:
        os.close(fd)


def append(path: Path, event: dict[str, Any]) -> dict[str, Any]:
    """Append one event to ``path`` (the caller holds the writer's lock)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        size = os.fstat(fd).st_size
        try:
            last = _last_line(fd, size)
        except LaneError as exc:
            exc.where = str(path)
            raise
        event = {**event, "prev": line_hash(last) if last is not None else None}
        line = encode(event)
        if len(line) > MAX_LINE_BYTES:
            raise LaneError(f"ledger event too large ({len(line)} bytes)")
        os.write(fd, line + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)
    return event


def make_event(
    kind: str,
    *,
    actor: str,
    role: str,
    task: str | None = None,
    head: str | None = None,
    attempted: Iterable[str] | None = None,
    result: str = "ok",
    reason: str | None = None,
    data: dict[str, Any] | None = None,
) -> dict[str, Any]:
    if not _KIND.match(kind):
        raise ValueError(f"bad event kind {kind!r}")
    if result not in RESULTS:
        raise ValueError(f"bad event result {result!r}")
    return {
        "id": ids.new_ulid(),
        "ts": now_ts(),
        "actor": actor,
        "role": role,
        "kind": kind,
        "task": task,
        "head": head,
        "attempted": list(attempted) if attempted else None,
        "result": result,
        "reason": reason,
        "data": data or None,
    }


# ---------------------------------------------------------------------------
# Reading and verifying


def files(log_dir: Path) -> list[Path]:
    if not log_dir.is_dir():
        return []
    return sorted(log_dir.glob("*/*.jsonl"))


def iter_file(path: Path, rel: str) -> Iterator[tuple[int, dict[str, Any] | None, Problem | None]]:
    data = path.read_bytes()
    lines = data.split(b"\n")
    complete = lines[:-1]  # the final element is "" when the file ends in "\n"
    tail = lines[-1]
    for number, raw in enumerate(complete, start=1):
        try:
            event = json.loads(raw)
            if not isinstance(event, dict):
                raise ValueError
        except ValueError:
            yield number, None, Problem(rel, number, "not a JSON object")
            continue
        yield number, event, None
    if tail:
        yield (
            len(complete) + 1,
            None,
            Problem(rel, len(complete) + 1, "torn last line (a crash mid-write)", torn=True),
        )


def verify_file(path: Path, rel: str) -> tuple[int, list[Problem]]:
    """(number of good events, problems) for one ledger file."""
    problems: list[Problem] = []
    data = path.read_bytes()
    lines = data.split(b"\n")
    complete, tail = lines[:-1], lines[-1]
    prev: bytes | None = None
    count = 0
    for number, raw in enumerate(complete, start=1):
        expected = line_hash(prev) if prev is not None else None
        prev = raw
        try:
            event = json.loads(raw)
            if not isinstance(event, dict):
                raise ValueError
        except ValueError:
            problems.append(Problem(rel, number, "not a JSON object (edited by hand?)"))
            continue
        missing = [k for k in REQUIRED if not isinstance(event.get(k), str)]
        if missing:
            problems.append(Problem(rel, number, f"missing field(s): {', '.join(missing)}"))
        if event.get("prev") != expected:
            culprit = number - 1 if number > 1 else number
            what = (
                f"line {culprit} was changed or removed after it was written "
                f"(line {number}'s prev does not match)"
                if number > 1
                else "the first line must have prev: null (lines before it were removed?)"
            )
            problems.append(Problem(rel, culprit, f"hash chain broken: {what}"))
            continue
        count += 1
    if tail:
        problems.append(
            Problem(rel, len(complete) + 1, "torn last line (a crash mid-write)", torn=True)
        )
    return count, problems


def repair_torn(path: Path) -> int:
    """Cut a torn tail off ``path``; returns the number of bytes removed."""
    data = path.read_bytes()
    keep = data.rfind(b"\n") + 1
    removed = len(data) - keep
    if removed:
        with open(path, "r+b") as handle:
            handle.truncate(keep)
            handle.flush()
            os.fsync(handle.fileno())
    return removed


# ---------------------------------------------------------------------------
# The one way features record events


KNOWN_SECRET_ENV = ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "GITHUB_TOKEN", "GH_TOKEN")


def secret_values(raw_config: dict[str, Any]) -> list[str]:
    """Values of every credential variable the config names (to redact, never to use)."""
    names = set(KNOWN_SECRET_ENV)

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if key in ("credential_env", "token_env") and isinstance(item, str):
                    names.add(item)
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(raw_config)
    return [v for n in sorted(names) if len(v := os.environ.get(n, "")) >= 8]


def redact(value: Any, secrets: list[str]) -> Any:
    if not secrets:
        return value
    if isinstance(value, str):
        for secret in secrets:
            value = value.replace(secret, "[redacted]")
        return value
    if isinstance(value, dict):
        return {k: redact(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v, secrets) for v in value]
    return value


def record(
    change: Change,
    kind: str,
    *,
    actor: str | None = None,
    role: str | None = None,
    task: str | None = None,
    head: str | None = None,
    attempted: Iterable[str] | None = None,
    result: str = "ok",
    reason: str | None = None,
    data: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Record one event for the command running ``change`` and stage it for commit."""
    from lanectl.workspace import writer_id

    ws = change.ws
    event = make_event(
        kind,
        actor=actor or change.actor,
        role=role or change.role,
        task=task if task is not None else change.task,
        head=head,
        attempted=attempted,
        result=result,
        reason=reason,
        data=data,
    )
    event = redact(event, secret_values(ws.raw_config))
    path = file_for(ws.log_dir, writer_id(ws), event["ts"])
    written = append(path, event)
    change.touch(path)
    return written
