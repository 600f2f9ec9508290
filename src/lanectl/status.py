"""``lanectl status``: where work is, what waits on whom and for how long, who is
running on which budget, what stalled and why, the latest gate events, and the
coordination tax (SPEC §9). :func:`summarize` counts the tasks (no I/O beyond the
task set); :func:`dashboard` adds everything else; :mod:`lanectl.statusview`
renders it."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from lanectl import timefmt
from lanectl.tasks import RISKS, STATES, Task, TaskSet

if TYPE_CHECKING:
    from lanectl.budgetwatch import Pulse
    from lanectl.coordtax import Tax
    from lanectl.watchdog import Diagnosis
    from lanectl.workspace import Workspace

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


# ---------------------------------------------------------------------------
# The dashboard: everything `lanectl status` shows (SPEC §9, issue 7)

GATE_KINDS = ("gate.blocked", "merge.refused", "tool.denied")
GATE_EVENTS_SHOWN = 5
ALIVE = ("running", "throttled", "overloaded")  # builders at work, even if the pacer holds them
EVENT_KEYS = ("ts", "kind", "actor", "role", "task", "result", "reason", "attempted")


@dataclass(frozen=True)
class Dashboard:
    """``lanectl status`` as data: build it with :func:`dashboard`, show it with
    :mod:`lanectl.statusview` or :meth:`to_json`."""

    status: Status
    diagnoses: tuple[Diagnosis, ...]
    pulses: Mapping[str, Pulse]  # budgets the store knows, by name
    budgets: Mapping[str, Mapping[str, Any]]  # the config's budget blocks
    max_steps: Mapping[str, int]  # agent → its configured max_steps
    tax: Tax
    gate_events: tuple[dict[str, Any], ...]

    @property
    def running(self) -> list[Diagnosis]:
        return [d for d in self.diagnoses if d.kind in ALIVE]

    @property
    def stalled(self) -> list[Diagnosis]:
        return [d for d in self.diagnoses if d.stalled and d.kind not in ALIVE]

    @property
    def on_human(self) -> list[Diagnosis]:
        return [d for d in self.diagnoses if d.on_human]

    def budget_use(self, budget: str | None) -> str | None:
        """``anthropic-main 38/50 rpm`` for a running builder's budget."""
        if budget is None:
            return None
        from lanectl.budgetwatch import use

        used = use(self.pulses.get(budget), self.budgets.get(budget))
        return f"{budget} {used}" if used else budget

    def running_json(self, d: Diagnosis) -> dict[str, Any]:
        pulse = self.pulses.get(d.budget or "")
        rpm = (self.budgets.get(d.budget or "") or {}).get("rpm")
        return {
            **d.to_json(),
            "max_steps": self.max_steps.get(d.agent or ""),
            "budget_use": self.budget_use(d.budget),
            "rpm_used": pulse.sent_last_minute if pulse else (0 if d.budget else None),
            "rpm_limit": rpm,
        }

    def to_json(self) -> dict[str, Any]:
        return {
            **self.status.to_json(),
            "watchdog": [d.to_json() for d in self.diagnoses],
            "waiting_on_human": [d.to_json() for d in self.on_human],
            "running": [self.running_json(d) for d in self.running],
            "stalled": [d.to_json() for d in self.stalled],
            "budgets": {
                name: {
                    "rpm_limit": block.get("rpm"),
                    "max_concurrency": block.get("max_concurrency"),
                    **(self.pulses[name].to_json() if name in self.pulses else {"budget": name}),
                }
                for name, block in self.budgets.items()
            },
            "gate_events": [{k: e.get(k) for k in EVENT_KEYS} for e in self.gate_events],
            "coordination_tax": self.tax.to_json(),
        }


def dashboard(ws: Workspace, taskset: TaskSet | None = None, now: float | None = None) -> Dashboard:
    """Everything ``lanectl status`` shows, read once: tasks by state, the watchdog's
    diagnoses (the pacer's probes included), the budgets, the latest gate events and
    the coordination tax of the last 24 hours."""
    import time

    from lanectl import budgetwatch, coordtax, logquery, tasks, watchdog

    now = time.time() if now is None else now
    taskset = tasks.load(ws) if taskset is None else taskset
    report = summarize(taskset, datetime.fromtimestamp(now, UTC))
    diagnoses = watchdog.diagnose(
        ws, taskset, now=now, probes=watchdog.probes(ws), deep=False,
        states=watchdog.STATUS_STATES,
    )  # fmt: skip
    raw = ws.raw_config
    budgets = budgetwatch.budgets_of(raw)
    agents = raw.get("agents")
    max_steps = {
        str(name): int(a["max_steps"])
        for name, a in (agents.items() if isinstance(agents, dict) else ())
        if isinstance(a, dict) and isinstance(a.get("max_steps"), int)
    }
    return Dashboard(
        status=report,
        diagnoses=tuple(diagnoses),
        pulses=budgetwatch.pulses(ws, sorted(budgets)),
        budgets=budgets,
        max_steps=max_steps,
        tax=coordtax.measure(ws, taskset, now),
        gate_events=tuple(logquery.latest(ws.log_dir, GATE_KINDS, GATE_EVENTS_SHOWN)),
    )
