"""The watchdog (SPEC §9): why each running or stuck task is where it is, with evidence.

:func:`diagnose` reads, never writes: task states, the claim refs
(:mod:`lanectl.lease`) and, for ``deep`` diagnosis, the ledger. A building
task is **crashed** when its claim is gone, released or expired, or its
dispatcher's process is gone from this machine (``lanectl dispatch``
reclaims it once the lease has expired); **looping** when its builder made the
same tool call N times in a row; otherwise **running**, with its last sign of
progress. Other tasks are **waiting** — on a dependency, a builder, a review,
a human's approval, merge or decision — with how long. Throttled, overloaded,
quota and auth come from the pacer through :data:`Probe` functions passed in by
the caller (``lanectl doctor`` and ``status`` pass :func:`probes`, which reads
the budget store: :mod:`lanectl.budgetwatch`): the first probe with an answer
for a running task wins. Nothing here stops a process: a builder that makes
progress keeps its lease; only an expired lease is reclaimed, by dispatch.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from lanectl import timefmt
from lanectl.tasks import Task, TaskSet
from lanectl.workspace import Workspace

if TYPE_CHECKING:  # the rest is imported when a task is building (status stays quick)
    from lanectl.lease import Claim

LOOP_THRESHOLD = 5  # the same tool call this many times in a row is a loop
STALLS = ("crashed", "looping", "throttled", "overloaded", "quota", "auth")
# Stalls that need a human; throttled and overloaded builders are alive and waited on.
NEEDS_HUMAN = ("crashed", "looping", "quota", "auth")
# What `status` diagnoses: builders, and what waits on a human.
STATUS_STATES = ("building", "eligible", "approved", "blocked")
HUMAN = ("human approval", "human merge", "human decision")


@dataclass(frozen=True)
class Diagnosis:
    task: str
    title: str
    state: str
    kind: str  # running | crashed | looping | waiting | throttled | overloaded | quota | auth
    summary: str
    evidence: tuple[str, ...] = ()
    seconds: float | None = None  # how long it has been so
    waiting_on: str | None = None  # dependency | builder | review | human approval | …
    next: str | None = None
    agent: str | None = None
    budget: str | None = None  # the budget a builder draws from
    until: float | None = None  # throttled/quota: when the pacer lets calls go again (epoch s)
    tool_calls: int | None = None  # a builder's tool.call events since it took the claim
    step: tuple[int, int | None] | None = None  # a model builder's turn and max_steps

    @property
    def stalled(self) -> bool:
        return self.kind in STALLS

    @property
    def on_human(self) -> bool:
        return self.waiting_on in HUMAN

    def to_json(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "title": self.title,
            "state": self.state,
            "kind": self.kind,
            "summary": self.summary,
            "evidence": list(self.evidence),
            "seconds": None if self.seconds is None else int(self.seconds),
            "waiting_on": self.waiting_on,
            "next": self.next,
            "agent": self.agent,
            "budget": self.budget,
            "until": None if self.until is None else timefmt.to_ts(
                datetime.fromtimestamp(self.until, UTC)),
            "tool_calls": self.tool_calls,
            "step": list(self.step) if self.step else None,
        }  # fmt: skip


@dataclass(frozen=True)
class Running:
    """A building task as a probe sees it (the pacer's hook)."""

    task: Task
    claim: Claim | None
    agent: str | None
    budget: str | None  # the agent's budget in the work tree's config, if any


# A probe says "throttled", "overloaded" or "quota" (with an ETA in the summary)
# for a running task, or None.
Probe = Callable[[Running], Diagnosis | None]


def probes(ws: Workspace) -> list[Probe]:
    """The probes `status` and `doctor` ask about running tasks: the pacer's, reading
    the budget store (a paused budget or recent 429s → throttled with the ETA;
    recent 529/503s → overloaded; ``quota_exhausted`` → quota and a rejected key →
    auth, a human is needed). None when no process here has used a budget yet.
    """
    from lanectl import budgetwatch

    found = budgetwatch.probe(ws)
    return [found] if found is not None else []


def _ago(seconds: float) -> str:
    return f"{timefmt.duration(seconds)} ago"


def _age(task: Task, now: float) -> float | None:
    stamp = timefmt.parse_ts(task.state_since or task.created or "")
    return max(0.0, now - stamp.timestamp()) if stamp else None


def _crashed(task: Task, claim: Claim | None, now: float) -> Diagnosis | None:
    from lanectl import isolation, lease

    def diag(summary: str, *evidence: str, seconds: float | None = None) -> Diagnosis:
        return Diagnosis(
            task.id,
            task.title,
            task.state,
            "crashed",
            summary,
            tuple(evidence),
            seconds,
            None,
            "lanectl dispatch",
            claim.actor if claim else None,
        )

    if claim is None:
        return diag(
            "building, but no claim holds it (the claim ref is gone or unreadable)",
            f"no readable {lease.claim_ref(task.id)}",
            "→ the next `lanectl dispatch` reclaims it",
        )
    who = f"{claim.actor} (pid {claim.pid} on {claim.host}, generation {claim.generation})"
    if claim.released:
        return diag(
            f"building, but its claim was released: {claim.reason or 'no reason'}",
            f"claim of {who} released",
            "→ the next `lanectl dispatch` reclaims it",
        )
    if claim.expires <= now:
        return diag(
            f"lease expired {_ago(now - claim.expires)}, not renewed by {who} → reclaimed by "
            f"the next `lanectl dispatch` (generation {claim.generation + 1})",
            f"last renewed {_ago(now - claim.renewed)}",
            seconds=now - claim.renewed,
        )
    if claim.host == socket.gethostname() and not isolation.alive(claim.pid):
        return diag(
            f"dispatcher pid {claim.pid} is gone; its lease expires in "
            f"{timefmt.duration(claim.expires - now)}, then `lanectl dispatch` reclaims it "
            f"(generation {claim.generation + 1})",
            f"pid {claim.pid} not running on {claim.host}",
            f"last renewed {_ago(now - claim.renewed)}",
            seconds=now - claim.renewed,
        )
    return None


def _looping(
    task: Task, claim: Claim, calls: Sequence[dict[str, Any]], threshold: int
) -> Diagnosis | None:
    """The last ``threshold`` tool calls of this claim's builder are one and the same."""
    mine = [e for e in calls if e.get("actor") == claim.actor]
    if len(mine) < threshold:
        return None
    last = mine[-threshold:]
    keys = {str((e.get("data") or {}).get("call")) for e in last}
    if len(keys) != 1 or "None" in keys:
        return None
    data = last[-1].get("data") or {}
    count = threshold
    for event in reversed(mine[:-threshold]):
        if (event.get("data") or {}).get("call") != data.get("call"):
            break
        count += 1
    what = data.get("command") or data.get("summary") or data.get("tool")
    return Diagnosis(
        task.id,
        task.title,
        task.state,
        "looping",
        f"{claim.actor} made the same call {count} times in a row: {what}",
        (f"tool.call {data.get('tool')} {data.get('call')}", f"last at {last[-1].get('ts')}"),
        None,
        None,
        f"a human looks at it: lanectl log --task {task.id} --kind tool.call",
        claim.actor,
    )


def _waiting(task: Task, taskset: TaskSet, now: float, blocked: dict[str, str]) -> Diagnosis | None:
    age = _age(task, now)
    since = f" for {timefmt.duration(age)}" if age is not None else ""

    def wait(on: str, summary: str, next_step: str, *evidence: str) -> Diagnosis:
        return Diagnosis(
            task.id,
            task.title,
            task.state,
            "waiting",
            summary + since,
            evidence,
            age,
            on,
            next_step,
        )

    if task.state == "ready":
        if taskset.is_ready(task):
            return wait("builder", "ready, waiting for a builder", "lanectl dispatch")
        open_deps = [
            f"{d} ({taskset.by_id[d].state})" if d in taskset.by_id else f"{d} (unknown)"
            for d in task.depends_on
            if d not in taskset.by_id or taskset.by_id[d].state != "merged"
        ]
        if open_deps:
            return wait(
                "dependency",
                f"waiting on {', '.join(open_deps)}",
                f"lanectl task show {open_deps[0].split()[0]}",
            )
        return wait(
            "dependency", "not dispatchable (dependency cycle or duplicate id)", "lanectl check"
        )
    if task.state == "review":
        return wait("review", "waiting on review", f"lanectl review {task.id}")
    if task.state == "changes_requested":
        return wait(
            "builder", "changes requested, waiting on the builder", f"lanectl task ready {task.id}"
        )
    if task.state == "eligible":
        return wait("human approval", "waiting on a human approval", f"lanectl approve {task.id}")
    if task.state == "approved":
        return wait(
            "human merge", "approved, waiting on a human to merge", f"lanectl merge {task.id}"
        )
    if task.state == "blocked":
        why = blocked.get(task.id)
        return wait(
            "human decision",
            "blocked, waiting on a human decision" + (f": {why}" if why else ""),
            f"lanectl task show {task.id}",
        )
    return None


def _ledger(ws: Workspace, kind: str, since: str | None = None) -> dict[str, list[dict[str, Any]]]:
    from lanectl import logquery

    by_task: dict[str, list[dict[str, Any]]] = {}
    for event, _ in logquery.scan(ws.log_dir, logquery.Filters(kind=kind, since=since)):
        if isinstance(event.get("task"), str):
            by_task.setdefault(event["task"], []).append(event)
    return by_task


def diagnose(
    ws: Workspace,
    taskset: TaskSet,
    *,
    now: float | None = None,
    probes: Sequence[Probe] = (),
    deep: bool = True,
    states: Collection[str] | None = None,
    loop_threshold: int = LOOP_THRESHOLD,
) -> list[Diagnosis]:
    """One diagnosis per running or waiting task (not drafts, merged or cancelled ones),
    stalls first. ``states`` limits it to tasks in those states (``status`` asks for
    :data:`STATUS_STATES`); ``deep`` also reads why blocked tasks are blocked.
    """
    now = time.time() if now is None else now
    chosen = [t for t in taskset.tasks if states is None or t.state in states]
    claims: dict[str, tuple[str, Claim | None]] = {}
    calls: dict[str, list[dict[str, Any]]] = {}
    if any(t.state == "building" for t in chosen):
        from lanectl import lease

        claims = lease.list_claims(ws.root)
        live = [c.acquired for _, c in claims.values() if c is not None and c.live(now)]
        if live:  # only running builders can loop: their tool calls, since the oldest claim
            since = timefmt.to_ts(datetime.fromtimestamp(min(live) - 1, UTC))
            calls = _ledger(ws, "tool.call", since)
    blocked: dict[str, str] = {}
    if deep and any(t.state == "blocked" for t in chosen):
        for task_id, events in _ledger(ws, "task.state").items():
            last = events[-1]
            if (last.get("data") or {}).get("to") == "blocked" and last.get("reason"):
                blocked[task_id] = str(last["reason"])
    agents = ws.raw_config.get("agents") if isinstance(ws.raw_config.get("agents"), dict) else {}
    found: list[Diagnosis] = []
    for task in chosen:
        if task.state != "building":
            waiting = _waiting(task, taskset, now, blocked)
            if waiting is not None:
                found.append(waiting)
            continue
        held = claims.get(task.id)
        claim = held[1] if held else None
        crashed = _crashed(task, claim, now)
        if crashed is not None:
            found.append(crashed)
            continue
        assert claim is not None  # no claim is a crash
        agent = agents.get(claim.actor) if isinstance(agents, dict) else None
        budget = agent.get("budget") if isinstance(agent, dict) else None
        running = Running(task, claim, claim.actor, budget if isinstance(budget, str) else None)
        since_claim = [e for e in calls.get(task.id, []) if _after(e, claim.acquired)]
        steps = sum(1 for e in since_claim if e.get("actor") == claim.actor)
        probed = next((d for p in probes if (d := p(running)) is not None), None)
        if probed is not None:
            found.append(replace(probed, tool_calls=steps, budget=probed.budget or running.budget))
            continue
        looping = _looping(task, claim, since_claim, loop_threshold)
        if looping is not None:
            found.append(replace(looping, tool_calls=steps, budget=running.budget))
            continue
        progress = claim.progress or claim.renewed
        found.append(
            Diagnosis(
                task.id,
                task.title,
                task.state,
                "running",
                f"{claim.actor} at work (generation {claim.generation}), last progress "
                f"{_ago(now - progress)}",
                (
                    f"lease renewed {_ago(now - claim.renewed)} by pid {claim.pid} on {claim.host}",
                    *((f"agent pid {claim.agent_pid}",) if claim.agent_pid else ()),
                ),
                now - claim.acquired,
                None,
                None,
                claim.actor,
                budget=running.budget,
                tool_calls=steps,
                step=(claim.step, claim.max_steps) if claim.step is not None else None,
            )
        )
    found.sort(key=lambda d: (not d.stalled, not d.on_human, -(d.seconds or 0)))
    return found


def _after(event: dict[str, Any], moment: float) -> bool:
    stamp = timefmt.parse_ts(str(event.get("ts", "")))
    return stamp is not None and stamp.timestamp() >= moment - 1


# ---------------------------------------------------------------------------
# What `doctor` shows (`status`: lanectl.statusview)


Level = Literal["ok", "info", "warn", "error"]


def doctor_items(ws: Workspace, taskset: TaskSet) -> list[tuple[Level, str, str, str | None]]:
    """(level, code, message, fix) for ``lanectl doctor``: stalls warn, waits inform."""
    found = diagnose(ws, taskset, probes=probes(ws), deep=True)
    items: list[tuple[Level, str, str, str | None]] = []
    for d in found:
        level: Level = "warn" if d.kind in NEEDS_HUMAN else "info"
        evidence = f" [{'; '.join(d.evidence)}]" if d.evidence else ""
        if d.kind == "waiting":
            label = ""
        elif d.kind in ("running", "throttled", "overloaded"):
            label = f"{d.kind}, not stuck: "
        else:
            label = f"{d.kind}: "
        items.append((level, f"work-{d.kind}", f"{d.task} {label}{d.summary}{evidence}", d.next))
    if not items:
        items.append(("ok", "work-none", "no task is running or waiting", None))
    return items
