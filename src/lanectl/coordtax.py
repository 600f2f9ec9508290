"""The coordination tax (SPEC §9): how long tasks waited, per stage, against how long
they were worked on, over a recent window (the last 24 hours by default).

Time in ``building`` is working; time in ``ready`` waits on dispatch, in ``review`` on
reviewers, in ``changes_requested`` on rework, in ``eligible``/``approved``/``blocked``
on humans. Drafts, merged and cancelled tasks cost nothing. The history comes from
the ledger's ``task.state`` events inside the window (only the months the window
touches are read); a task with no event in the window has been in its current
state since ``state_since`` (or the whole window), which the task file says.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from lanectl import timefmt

if TYPE_CHECKING:
    from lanectl.tasks import TaskSet
    from lanectl.workspace import Workspace

WINDOW_S = 24 * 3600.0
STAGE = {
    "building": "working",
    "ready": "dispatch",
    "review": "review",
    "changes_requested": "rework",
    "eligible": "humans",
    "approved": "humans",
    "blocked": "humans",
}
STAGES = ("working", "dispatch", "review", "rework", "humans")
LABEL = {
    "working": "working",
    "dispatch": "waiting on dispatch",
    "review": "waiting on review",
    "rework": "waiting on rework",
    "humans": "waiting on humans",
}


@dataclass(frozen=True)
class Move:
    """One ``task.state`` event: ``task`` went from ``old`` to ``new`` at ``at``."""

    task: str
    at: float
    old: str
    new: str


@dataclass(frozen=True)
class Tax:
    window_s: float
    by_state: Mapping[str, float]  # seconds spent in each counted state
    tasks: int  # tasks that spent time in a counted state
    moves: int  # task.state events in the window

    @property
    def by_stage(self) -> dict[str, float]:
        out = dict.fromkeys(STAGES, 0.0)
        for state, seconds in self.by_state.items():
            out[STAGE[state]] += seconds
        return out

    @property
    def working(self) -> float:
        return self.by_stage["working"]

    @property
    def waiting(self) -> float:
        return sum(v for k, v in self.by_stage.items() if k != "working")

    @property
    def waiting_share(self) -> float | None:
        total = self.working + self.waiting
        return self.waiting / total if total else None

    def to_json(self) -> dict[str, Any]:
        share = self.waiting_share
        return {
            "window_s": int(self.window_s),
            "working_s": round(self.working),
            "waiting_s": round(self.waiting),
            "waiting_share": None if share is None else round(share, 3),
            "by_stage_s": {k: round(v) for k, v in self.by_stage.items()},
            "by_state_s": {k: round(v) for k, v in sorted(self.by_state.items())},
            "tasks": self.tasks,
            "moves": self.moves,
        }

    def summary(self) -> str:
        """``working 5.2 h · waiting on review 1.1 h · waiting on humans 3.4 h``"""
        parts = [f"{LABEL[k]} {hours(v)}" for k, v in self.by_stage.items() if v >= 1]
        return " · ".join(parts) if parts else "no task was working or waiting"


def hours(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def compute(taskset: TaskSet, moves: Iterable[Move], now: float, window_s: float = WINDOW_S) -> Tax:
    """The tax over ``[now - window_s, now]`` from the tasks and the moves in the window."""
    start = now - window_s
    start_ts = timefmt.to_ts(datetime.fromtimestamp(start, UTC))
    by_task: dict[str, list[Move]] = {}
    count = 0
    for move in moves:
        if start <= move.at <= now:
            by_task.setdefault(move.task, []).append(move)
            count += 1
    spent: dict[str, float] = {}
    counted: set[str] = set()

    def add(task: str, state: str, seconds: float) -> None:
        if state in STAGE and seconds > 0:
            spent[state] = spent.get(state, 0.0) + seconds
            counted.add(task)

    for task in taskset.tasks:
        if task.id in by_task:
            continue
        if task.state not in STAGE:
            continue
        since = task.state_since or task.created or ""
        if since <= start_ts:  # ISO timestamps compare as text: the whole window
            add(task.id, task.state, window_s)
            continue
        stamp = timefmt.parse_ts(since)
        if stamp is not None:
            add(task.id, task.state, now - max(start, stamp.timestamp()))
    known = taskset.by_id
    for task_id, found in by_task.items():
        found.sort(key=lambda m: m.at)
        mover = known.get(task_id)
        created = timefmt.parse_ts(mover.created or "") if mover is not None else None
        cursor = max(start, created.timestamp()) if created is not None else start
        state = found[0].old
        for move in found:
            add(task_id, state, move.at - cursor)
            cursor, state = max(cursor, move.at), move.new
        add(task_id, state, now - cursor)
    return Tax(window_s, spent, len(counted), count)


def moves(ws: Workspace, since: float) -> list[Move]:
    """The ledger's ``task.state`` events since ``since`` (the months it touches only)."""
    from lanectl import logquery

    since_ts = timefmt.to_ts(datetime.fromtimestamp(since, UTC))
    found: list[Move] = []
    for event, _ in logquery.scan(ws.log_dir, logquery.Filters(kind="task.state", since=since_ts)):
        data = event.get("data") or {}
        stamp = timefmt.parse_ts(str(event.get("ts", "")))
        task = event.get("task")
        if stamp is None or not isinstance(task, str) or not isinstance(data, dict):
            continue
        found.append(Move(task, stamp.timestamp(), str(data.get("from")), str(data.get("to"))))
    return found


def measure(
    ws: Workspace, taskset: TaskSet, now: float | None = None, window_s: float = WINDOW_S
) -> Tax:
    """The coordination tax of the last ``window_s`` seconds in this repository."""
    now = time.time() if now is None else now
    return compute(taskset, moves(ws, now - window_s), now, window_s)
