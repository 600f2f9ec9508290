"""Querying the ledger for ``lanectl log``."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from lanectl import yamlio

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


def select(events: Iterable[dict[str, Any]], filters: Filters) -> list[dict[str, Any]]:
    chosen = [e for e in events if filters.match(e)]
    chosen.sort(key=lambda e: (str(e.get("ts", "")), str(e.get("id", ""))))
    return chosen


def as_yaml(events: list[dict[str, Any]]) -> str:
    shaped = [{k: e[k] for k in YAML_KEYS if e.get(k) is not None} for e in events]
    return yamlio.dump_block(shaped) if shaped else ""
