"""One build of one task, the same path for every builder.

Given a lease on the task (:mod:`lanectl.lease`): a clean worktree detached
at the start commit, the prompt written into it, the agent's runner started
with a scrubbed environment and its own credential only (each asked of the
policy engine first), then — whatever the runner was — the configured checks
in the worktree, a commit of exactly what the agent left on disk, signed by
lanectl with the builder's key and carrying ``Lane-Task``/``Lane-Actor``/
``Lane-Model`` trailers, the branch moved under the lease, and a signed check
result at the new head. The task goes to ``review`` when the checks are green,
to ``blocked`` with the reason otherwise. A build whose lease was reclaimed
changes nothing (ADR 0017).
"""

from __future__ import annotations

import contextlib
import os
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from lanectl import (
    builderprompt,
    evidence,
    isolation,
    keys,
    ledger,
    runners,
    sandboxrules,
    state,
    taskops,
    tasks,
    treecommit,
    worktrees,
)
from lanectl.errors import LaneError
from lanectl.guard import Guard, call_digest
from lanectl.lease import Heartbeat, Lease, LeaseLost
from lanectl.policy import Action, Actor, load_context
from lanectl.policybase import SYSTEM
from lanectl.runners import AgentSpec, BuildJob, RunOutcome
from lanectl.workspace import Workspace

Reporter = Callable[[str, str, str], None]  # (task, phase, message)


@dataclass(frozen=True)
class Settings:
    """The base branch's ``dispatch:`` block and ``checks:``."""

    remote: str | None = None
    lease_s: float = 300.0
    timeout_s: float = 3600.0
    check_timeout_s: float = 900.0
    checks: tuple[str, ...] = ()
    sandbox: sandboxrules.Settings = field(default_factory=sandboxrules.Settings)

    @classmethod
    def from_config(cls, raw: Mapping[str, Any]) -> Settings:
        block = raw.get("dispatch") if isinstance(raw.get("dispatch"), dict) else {}
        assert isinstance(block, dict)
        return cls(
            remote=block.get("remote"),
            lease_s=float(block.get("lease_s", 300)),
            timeout_s=float(block.get("timeout_s", 3600)),
            check_timeout_s=float(block.get("check_timeout_s", 900)),
            checks=tuple(str(c) for c in raw.get("checks") or ()),
            sandbox=sandboxrules.Settings.from_config(raw),
        )


@dataclass(frozen=True)
class Plan:
    """What dispatch decided for one task."""

    task: tasks.Task
    agent: AgentSpec
    base: str
    base_sha: str
    start: str  # the commit the build starts from: lanes/<task> if it exists, else the base
    branch_tip: str | None  # lanes/<task> before the build (None: a new branch)
    secrets: tuple[str, ...] = ()  # values to redact (every credential the configs name)


@dataclass(frozen=True)
class BuildResult:
    task: str
    agent: str
    outcome: str  # review | blocked | lost
    reason: str
    generation: int
    head: str | None = None
    changed: tuple[str, ...] = ()
    checks: tuple[Mapping[str, Any], ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "agent": self.agent,
            "outcome": self.outcome,
            "reason": self.reason,
            "generation": self.generation,
            "head": self.head,
            "changed": list(self.changed),
            "checks": [dict(c) for c in self.checks],
        }


class _Blocked(Exception):
    def __init__(self, reason: str, outcome: RunOutcome | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.outcome = outcome


def _task(ws: Workspace, task_id: str) -> tasks.Task:
    return tasks.load(ws).resolve(task_id)


def run(
    ws: Workspace, plan: Plan, lease: Lease, settings: Settings, report: Reporter
) -> BuildResult:
    """Build ``plan.task`` under ``lease``; never raises for the task's own failures."""
    progress = isolation.Progress()
    beat = Heartbeat(lease, max(lease.ttl / 3, 0.05), progress.heartbeat)
    beat.start()
    task_id = plan.task.id
    try:
        return _build(ws, plan, lease, settings, report, progress)
    except LeaseLost as exc:
        report(task_id, "lost", exc.message)
        with state.change(ws, SYSTEM, SYSTEM, f"claim lost {task_id}", task_id) as change:
            ledger.record(
                change,
                "claim.lost",
                result="refused",
                reason=exc.message,
                data={"generation": lease.generation, "agent": plan.agent.name},
            )
        return BuildResult(task_id, plan.agent.name, "lost", exc.message, lease.generation)
    except _Blocked as exc:
        return _block(ws, plan, lease, exc.reason, exc.outcome, report)
    except LaneError as exc:
        return _block(ws, plan, lease, str(exc), None, report)
    finally:
        beat.stop()


def _build(
    ws: Workspace,
    plan: Plan,
    lease: Lease,
    settings: Settings,
    report: Reporter,
    progress: isolation.Progress,
) -> BuildResult:
    agent, task = plan.agent, plan.task
    job = _job(ws, plan, lease, settings, report, progress)
    outcome = runners.for_agent(agent).run(job)
    job.prompt_file.unlink(missing_ok=True)
    lease.check()
    if not outcome.ok:
        raise _Blocked(outcome.reason, outcome)
    report(task.id, "agent", outcome.reason)
    snap = treecommit.snapshot(ws.root, job.worktree, plan.start, exclude={worktrees.PROMPT_FILE})
    if not snap.changed:
        raise _Blocked(f"{agent.name} changed nothing", outcome)
    branch = f"lanes/{task.id}"
    decision = job.guard.check(Action("commit", ref=branch, paths=snap.changed, task=task.id))
    if not decision.allowed:
        raise _Blocked(f"commit refused: {decision.reason}", outcome)
    report(task.id, "checks", f"{len(settings.checks)} check(s), {len(snap.changed)} file(s)")
    check_env = {k: v for k, v in job.env.items() if k != agent.credential_env}
    runs = [_check(job, command, check_env, settings) for command in settings.checks]
    head = _commit(ws, plan, lease, snap, outcome)
    if settings.remote:
        push = job.guard.check(Action("push", ref=branch, host=settings.remote, task=task.id))
        if not push.allowed:
            raise _Blocked(f"push refused: {push.reason}", outcome)
    lease.advance_branch(branch, head, plan.branch_tip)
    report(task.id, "commit", f"{head[:7]} on {branch} (signed by agent:{agent.name})")
    failed = [r for r in runs if r["exit_code"] != 0]
    final = "blocked" if failed else "review"
    reason = (
        f"check `{failed[0]['command']}` failed (exit {failed[0]['exit_code']}) at {head[:7]}"
        if failed
        else f"checks green at {head[:7]}"
    )
    with state.change(ws, SYSTEM, SYSTEM, f"build {task.id}: {final}", task.id) as change:
        lease.check()
        _finished(change, agent, outcome)
        for r in runs:
            data = {k: r[k] for k in ("call", "command", "exit_code")}
            ledger.record(
                change,
                "tool.call",
                actor=agent.name,
                role=agent.role,
                data={"tool": "check", **data},
            )
        ledger.record(
            change,
            "build.committed",
            actor=agent.name,
            role=agent.role,
            head=head,
            data={"generation": lease.generation, "parent": plan.start, "files": len(snap.changed)},
        )
        record = {"task": task.id, "head": head, "checks": [_record_run(r) for r in runs]}
        evidence.write_signed_record(
            ws, change, "check", {**record, "passed": not failed}, agent.name
        )
        _settle(ws, change, task.id, final, reason, lease)
    if not failed:
        worktrees.remove(ws, task.id)
    report(task.id, final, reason)
    return BuildResult(
        task.id, agent.name, final, reason, lease.generation, head, snap.changed, tuple(runs)
    )


def _job(
    ws: Workspace,
    plan: Plan,
    lease: Lease,
    settings: Settings,
    report: Reporter,
    progress: isolation.Progress,
) -> BuildJob:
    """The worktree, the policy guard, the scrubbed environment and the prompt."""
    agent, task = plan.agent, plan.task
    prepared = worktrees.prepare(ws, task.id, plan.start)
    wt = prepared.path
    reset = "reset (an earlier run left it), " if prepared.reused else ""
    report(task.id, "worktree", f"{reset}at {plan.start[:7]}")
    ctx = load_context(ws, agent.name, task=task.id, worktree=wt)
    guard = Guard(ws, Actor(agent.name, agent.role), ctx, task.id)
    credential = _credential(guard, agent)
    home = isolation.private_home(ws.private_dir, agent.name)
    names = {"LANECTL_TASK": task.id, "LANECTL_AGENT": agent.name, "LANECTL_WORKTREE": str(wt)}
    prompt = builderprompt.render(
        ws,
        task,
        agent=agent.name,
        worktree=wt,
        base=plan.base,
        base_sha=plan.base_sha,
        checks=settings.checks,
    )
    prompt_file = wt / worktrees.PROMPT_FILE
    prompt_file.write_text(prompt, encoding="utf-8")
    confine = sandboxrules.for_agent(ws, settings.sandbox, worktree=wt, home=home, network=True)

    def started(pid: int) -> None:
        report(task.id, "agent", f"{agent.name} started (pid {pid})")
        # A lost lease is noticed by the runner, through ``lease.lost``.
        with contextlib.suppress(LaneError):
            lease.renew(
                agent_pid=pid, agent_start=isolation.start_time(pid), progress=progress.last
            )
        with state.change(ws, agent.name, agent.role, f"agent started {task.id}", task.id) as ch:
            data = {"pid": pid, "generation": lease.generation, "provider": agent.provider}
            ledger.record(ch, "agent.started", data=data)

    return BuildJob(
        ws=ws,
        task=task,
        agent=agent,
        worktree=wt,
        prompt=prompt,
        prompt_file=prompt_file,
        env=isolation.agent_env(home, credential=credential, names=names),
        redactor=isolation.Redactor([*plan.secrets, *(credential[1:] if credential else ())]),
        guard=guard,
        progress=progress,
        cancel=lease.lost,
        timeout_s=agent.timeout_s or settings.timeout_s,
        check_timeout_s=settings.check_timeout_s,
        on_start=started,
        sandbox=confine,
        tool_sandbox=confine.with_network(settings.sandbox.run_network),
    )


def _commit(
    ws: Workspace, plan: Plan, lease: Lease, snap: treecommit.Snapshot, outcome: RunOutcome
) -> str:
    """The signed commit of the snapshot (not yet on any branch)."""
    agent, task = plan.agent, plan.task
    key = keys.find_key(ws.common_dir, agent.name)
    if key is None:
        raise _Blocked(f"{agent.name} has no signing key here (run `lanectl agent add`)", outcome)
    message = (
        f"{task.title}\n\nBuilt by {agent.name} ({agent.provider}) for {task.id}, "
        f"claim generation {lease.generation}.\n\n"
        f"Lane-Task: {task.id}\nLane-Actor: {agent.name}\nLane-Model: {agent.model_label}\n"
    )
    return treecommit.signed_commit(
        ws.root,
        snap.tree,
        plan.start,
        message,
        key=key.private_path,
        author=(agent.name, f"{agent.name}@agents.lanectl.invalid"),
    )


def _credential(guard: Guard, agent: AgentSpec) -> tuple[str, str] | None:
    name = agent.credential_env
    if not name:
        return None
    isolation.check_credential_name(name)
    decision = guard.check(Action("credential", credential=name, task=guard.task))
    if not decision.allowed:
        raise _Blocked(f"credential refused: {decision.reason}")
    value = os.environ.get(name, "").strip()
    if not value:
        raise _Blocked(f"${name} (the credential of {agent.name}) is not set where lanectl runs")
    return name, value


def _check(
    job: BuildJob, command: str, env: Mapping[str, str], settings: Settings
) -> dict[str, Any]:
    """Run one configured check in the worktree, as argv, through the policy engine."""
    try:
        argv = tuple(shlex.split(command))
    except ValueError as exc:
        raise _Blocked(f"check `{command}` is not a command line: {exc}") from None
    decision = job.guard.check(Action("run", argv=argv, task=job.task.id))
    if not decision.allowed:
        raise _Blocked(f"check `{command}` refused: {decision.reason}")
    captured = isolation.run(
        argv,
        cwd=job.worktree,
        env=env,
        timeout=settings.check_timeout_s,
        redactor=job.redactor,
        sandbox=job.sandbox,
    )
    return {
        "command": command,
        "exit_code": 124 if captured.timed_out else captured.exit_code,
        "duration_s": captured.duration_s,
        "output_sha256": captured.output_sha256,
        "output_tail": captured.tail(600),
        "call": call_digest("check", list(argv)),
    }


def _record_run(run: Mapping[str, Any]) -> dict[str, Any]:
    return {k: run[k] for k in ("command", "exit_code", "duration_s", "output_sha256")}


def _finished(change: state.Change, agent: AgentSpec, outcome: RunOutcome | None) -> None:
    if outcome is None:
        return
    ledger.record(
        change,
        "agent.finished",
        actor=agent.name,
        role=agent.role,
        result="ok" if outcome.ok else "error",
        reason=None if outcome.ok else outcome.reason,
        data=dict(outcome.data),
    )


def _settle(
    ws: Workspace, change: state.Change, task_id: str, final: str, reason: str, lease: Lease
) -> None:
    task = _task(ws, task_id)
    taskops.set_state(ws, change, task, final, reason=reason)
    if final == "blocked":
        taskops.note(ws, change, task, f"blocked: {reason}")
    lease.release(f"{final}: {reason}")
    ledger.record(
        change, "claim.released", reason=reason, data={"generation": lease.generation, "to": final}
    )


def _block(
    ws: Workspace,
    plan: Plan,
    lease: Lease,
    reason: str,
    outcome: RunOutcome | None,
    report: Reporter,
) -> BuildResult:
    task_id = plan.task.id
    try:
        with state.change(ws, SYSTEM, SYSTEM, f"build {task_id}: blocked", task_id) as change:
            lease.check()
            _finished(change, plan.agent, outcome)
            _settle(ws, change, task_id, "blocked", reason, lease)
    except LeaseLost as exc:
        report(task_id, "lost", exc.message)
        return BuildResult(task_id, plan.agent.name, "lost", exc.message, lease.generation)
    report(task_id, "blocked", reason)
    return BuildResult(task_id, plan.agent.name, "blocked", reason, lease.generation)
