"""``lanectl status``: where work is, what is ready, and how long each task has waited."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from lanectl import timefmt
from lanectl.tasks import RISKS, STATES, Task, TaskSet

ACTIVE = ("ready", "building", "review", "changes_requested", "eligible", "approved", "blocked")
WAITING_ON_HUMAN = {"eligible": "approval", "approved": "merge", "blocked": "a decision"}


@dataclass(frozen=True)
class Row:
    task: Task
    seconds_in_state: float
    ready: bool


@dataclass(frozen=True)
class Status:
    total: int
    by_state: dict[str, int]
    by_risk: dict[str, int]
    by_state_risk: dict[str, dict[str, int]]
    ready: list[Row]
    active: list[Row]  # in an active state, longest first
    broken: list[str]

    def to_json(self) -> dict[str, Any]:
        def row(r: Row) -> dict[str, Any]:
            return {
                "id": r.task.id,
                "title": r.task.title,
                "state": r.task.state,
                "risk": r.task.risk,
                "seconds_in_state": int(r.seconds_in_state),
                "ready": r.ready,
            }

        return {
            "total": self.total,
            "by_state": self.by_state,
            "by_risk": self.by_risk,
            "by_state_risk": self.by_state_risk,
            "ready": [row(r) for r in self.ready],
            "active": [row(r) for r in self.active],
            "broken": self.broken,
        }


def summarize(taskset: TaskSet, now: datetime | None = None) -> Status:
    now = now or datetime.now(UTC)

    def age(task: Task) -> float:
        stamp = timefmt.parse_ts(task.state_since or task.created or "")
        return (now - stamp).total_seconds() if stamp else 0.0

    by_state = Counter(t.state for t in taskset.tasks)
    by_risk = Counter(t.risk for t in taskset.tasks)
    by_state_risk: dict[str, dict[str, int]] = {}
    for task in taskset.tasks:
        by_state_risk.setdefault(task.state, dict.fromkeys(RISKS, 0))[task.risk] += 1
    rows = [Row(t, age(t), taskset.is_ready(t)) for t in taskset.tasks if t.state in ACTIVE]
    rows.sort(key=lambda r: -r.seconds_in_state)
    return Status(
        total=len(taskset.tasks),
        by_state={s: by_state[s] for s in STATES if by_state[s]},
        by_risk={r: by_risk[r] for r in RISKS if by_risk[r]},
        by_state_risk={s: by_state_risk[s] for s in STATES if s in by_state_risk},
        ready=[r for r in rows if r.ready],
        active=rows,
        broken=[b.message for b in taskset.broken],
    )


def next_step(row: Row) -> str:
    state = row.task.state
    if state == "ready":
        return "waiting for a builder" if row.ready else "waiting on dependencies"
    if state == "blocked":
        return f"needs a human: lanectl task show {row.task.id}"
    if state in WAITING_ON_HUMAN:
        return f"waiting on a human ({WAITING_ON_HUMAN[state]})"
    return {"building": "builder at work", "review": "in review"}.get(state, state)
