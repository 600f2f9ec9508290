"""Querying the ledger for ``lanectl log``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lanectl import ledger, yamlio

# The essay's gate_event shape, in this order; id/prev/data go to --json.
YAML_KEYS = ("ts", "actor", "role", "kind", "task", "head", "attempted", "result", "reason", "data")


@dataclass(frozen=True)
class Filters:
    actor: str | None = None
    role: str | None = None
    kind: str | None = None
    task: str | None = None
    result: str | None = None
    since: str | None = None  # ts strings compare correctly as text
    until: str | None = None

    def match(self, event: dict[str, Any]) -> bool:
        if self.actor is not None and event.get("actor") != self.actor:
            return False
        if self.role is not None and event.get("role") != self.role:
            return False
        if self.kind is not None:
            kind = str(event.get("kind", ""))
            # "task" matches task.created, task.state, …; "task.state" matches exactly
            if kind != self.kind and not kind.startswith(self.kind + "."):
                return False
        if self.task is not None and event.get("task") != self.task:
            return False
        if self.result is not None and event.get("result") != self.result:
            return False
        ts = str(event.get("ts", ""))
        if self.since is not None and ts < self.since:
            return False
        return not (self.until is not None and ts > self.until)


def _needles(filters: Filters) -> list[bytes]:
    """Byte strings every matching line contains, in the form ``ledger.encode`` writes.

    Values are JSON-encoded exactly as the writer encodes them (ASCII, same
    escapes, same separators), so a line without a needle cannot match and is
    skipped unparsed. Lines not in lanectl's own form (hand edits, which
    ``audit`` reports) may be skipped by a filtered query.
    """
    needles = [
        f'"{key}": '.encode() + json.dumps(value).encode()
        for key, value in (
            ("actor", filters.actor),
            ("role", filters.role),
            ("task", filters.task),
            ("result", filters.result),
        )
        if value is not None
    ]
    if filters.kind is not None:  # a prefix: "task" also finds "task.state"
        needles.append(b'"kind": ' + json.dumps(filters.kind).encode()[:-1])
    return needles


def _candidates(data: bytes, needles: list[bytes]) -> Iterator[bytes]:
    if not needles:
        yield from (line for line in data.split(b"\n") if line)
        return
    first, rest = needles[0], needles[1:]
    position = data.find(first)
    while position >= 0:
        start = data.rfind(b"\n", 0, position) + 1
        end = data.find(b"\n", position)
        end = len(data) if end < 0 else end
        line = data[start:end]
        if all(needle in line for needle in rest):
            yield line
        position = data.find(first, end)


def scan(log_dir: Path, filters: Filters) -> list[tuple[dict[str, Any], bytes]]:
    """Matching (event, stored line) pairs from every ledger file, oldest first."""
    needles = _needles(filters)
    since_month = filters.since[:7] if filters.since else None
    until_month = filters.until[:7] if filters.until else None
    found: list[tuple[dict[str, Any], bytes]] = []
    for path in ledger.files(log_dir):
        month = path.parent.name
        if (since_month and month < since_month) or (until_month and month > until_month):
            continue
        for line in _candidates(path.read_bytes(), needles):
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if isinstance(event, dict) and filters.match(event):
                found.append((event, line))
    found.sort(key=lambda pair: (str(pair[0].get("ts", "")), str(pair[0].get("id", ""))))
    return found


def latest(log_dir: Path, kinds: tuple[str, ...], limit: int) -> list[dict[str, Any]]:
    """The newest ``limit`` events of exactly these kinds, oldest first, reading back
    from the end of each file of the newest months only.

    Each file is in write order and each month directory holds that month's
    events, so once a month yields ``limit`` matches no older month can hold a
    newer one.
    """
    if limit <= 0:
        return []
    needles = [b'"kind": ' + json.dumps(kind).encode() for kind in kinds]
    by_month: dict[str, list[Path]] = {}
    for path in ledger.files(log_dir):
        by_month.setdefault(path.parent.name, []).append(path)
    found: list[dict[str, Any]] = []
    for month in sorted(by_month, reverse=True):
        for path in by_month[month]:
            data = path.read_bytes()
            for needle in needles:
                end, taken = len(data), 0
                while taken < limit and (at := data.rfind(needle, 0, end)) >= 0:
                    start = data.rfind(b"\n", 0, at) + 1
                    stop = data.find(b"\n", at)
                    end = start
                    try:
                        event = json.loads(data[start : stop if stop >= 0 else len(data)])
                    except ValueError:
                        continue
                    if isinstance(event, dict) and event.get("kind") in kinds:
                        found.append(event)
                        taken += 1
        if len(found) >= limit:
            break
    found.sort(key=lambda e: (str(e.get("ts", "")), str(e.get("id", ""))))
    return found[-limit:]


def as_yaml(events: list[dict[str, Any]]) -> str:
    shaped = [{k: e[k] for k in YAML_KEYS if e.get(k) is not None} for e in events]
    return yamlio.dump_block(shaped) if shaped else ""
