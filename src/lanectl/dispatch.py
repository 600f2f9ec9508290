"""``lanectl dispatch``: claim ready tasks and run their builders, several at once.

A task is picked when it is ready (state ``ready``, every dependency merged)
or when it is ``building`` but its lease expired or vanished (its dispatcher
crashed): that one is reclaimed with the next generation. Each pick takes the
task's lease first (:mod:`lanectl.lease`); a task someone else holds is
skipped. Then the task moves to ``building`` and a worker thread runs
:func:`lanectl.build.run`. The builder agent is the first agent with role
builder in the base branch's config, or the one named. Policy, agents, checks
and ``dispatch:`` settings all come from the base branch.
"""

from __future__ import annotations

import socket
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from lanectl import (
    build,
    git,
    isolation,
    keys,
    lease,
    ledger,
    policy,
    runners,
    state,
    taskops,
    tasks,
    worktrees,
)
from lanectl.build import BuildResult, Plan, Reporter, Settings
from lanectl.errors import LaneError, Refused
from lanectl.policybase import SYSTEM
from lanectl.runners import AgentSpec
from lanectl.workspace import Workspace


@dataclass(frozen=True)
class Options:
    max: int = 1
    once: bool = False
    dry_run: bool = False
    agent: str | None = None
    poll_s: float = 1.0


@dataclass
class Report:
    results: list[BuildResult] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (task, why)
    planned: list[dict[str, Any]] = field(default_factory=list)  # --dry-run

    def to_json(self) -> dict[str, Any]:
        return {
            "built": [r.to_json() for r in self.results],
            "skipped": [{"task": t, "reason": why} for t, why in self.skipped],
            "planned": self.planned,
        }


@dataclass(frozen=True)
class Setup:
    """Everything read once from the base branch before any claim is taken."""

    base: str
    base_sha: str
    agent: AgentSpec
    settings: Settings
    secrets: tuple[str, ...]


def choose_agent(raw: dict[str, Any], name: str | None) -> AgentSpec:
    agents = raw.get("agents") or {}
    if name is None:
        name = next(
            (n for n, a in agents.items() if isinstance(a, dict) and a.get("role") == "builder"),
            None,
        )
        if name is None:
            raise LaneError(
                "no agent with role builder in the base branch's config",
                hint="add one with `lanectl agent add NAME --role builder …`",
            )
    spec = AgentSpec.from_config(name, raw)
    if spec.role != "builder":
        raise LaneError(f"{name} is a {spec.role}, not a builder")
    return spec


def setup(ws: Workspace, agent_name: str | None) -> Setup:
    base = policy.load_base_config(ws)
    if base.raw is None:
        raise Refused(base.problem or policy.NO_POLICY)
    base_sha = git.rev_parse(f"refs/heads/{base.branch}", ws.root)
    assert base_sha is not None  # load_base_config read from it
    agent = choose_agent(base.raw, agent_name)
    runners.for_agent(agent)  # fails now, before anything is claimed, if it cannot run
    if keys.find_key(ws.common_dir, agent.name) is None:
        raise LaneError(
            f"{agent.name} has no signing key on this machine",
            hint=f"run `lanectl agent add {agent.name} …` (it creates the key) and merge the "
            "allowed_signers change",
        )
    settings = Settings.from_config(base.raw)
    if settings.remote is not None:
        ctx = policy.load_context(ws, SYSTEM)
        decision = policy.decide(
            policy.Actor(SYSTEM, SYSTEM),
            policy.Action("push", ref=lease.claim_ref("T-0"), host=settings.remote),
            ctx,
        )
        if not decision.allowed:
            raise Refused(f"claims cannot be shared on '{settings.remote}': {decision.reason}")
    secrets = {*ledger.secret_values(ws.raw_config), *ledger.secret_values(base.raw)}
    return Setup(base.branch, base_sha, agent, settings, tuple(sorted(secrets)))


def candidates(
    ws: Workspace, taskset: tasks.TaskSet, now: float
) -> list[tuple[tasks.Task, str | None]]:
    """Tasks to build, oldest first, each with why it is held by someone (None: free)."""
    claims = lease.list_claims(ws.root)
    found: list[tuple[tasks.Task, str | None]] = []
    for task in taskset.tasks:
        crashed = task.state == "building" and taskset.is_ready(task._replace(state="ready"))
        if not (taskset.is_ready(task) or crashed):
            continue
        held = claims.get(task.id)
        claim = held[1] if held else None
        if claim is not None and claim.live(now):
            found.append(
                (
                    task,
                    f"claimed by {claim.actor} (pid {claim.pid} on {claim.host}) "
                    f"for {claim.expires - now:.0f} s more",
                )
            )
        else:
            found.append((task, None))
    return found


def _start(ws: Workspace, setup_: Setup, task: tasks.Task) -> tuple[str, str | None]:
    """(start commit, current tip of lanes/<task> or None)."""
    branch = f"refs/heads/lanes/{task.id}"
    tip = git.rev_parse(branch, ws.root)
    remote = setup_.settings.remote
    if remote is not None:
        found = git.out(["ls-remote", "--refs", remote, branch], ws.root).split()
        theirs = found[0] if found else None
        if theirs and theirs != tip:
            git.run(
                ["fetch", "--quiet", "--no-tags", "--no-write-fetch-head", remote, branch], ws.root
            )
            if tip and not _ancestor(ws, tip, theirs):
                raise LaneError(
                    f"lanes/{task.id} differs here and on '{remote}'; reconcile them first"
                )
            git.run(["update-ref", branch, theirs], ws.root)
            tip = theirs
    return (tip or setup_.base_sha), tip


def _ancestor(ws: Workspace, older: str, newer: str) -> bool:
    return (
        git.run(["merge-base", "--is-ancestor", older, newer], ws.root, check=False).returncode == 0
    )


def claim(ws: Workspace, setup_: Setup, task: tasks.Task) -> tuple[lease.Lease, Plan] | str:
    """Take the task's lease and move it to building; a string says why not."""
    try:
        held = lease.acquire(
            ws.root,
            task.id,
            actor=setup_.agent.name,
            ttl=setup_.settings.lease_s,
            remote=setup_.settings.remote,
        )
    except lease.ClaimHeld as exc:
        return exc.message
    try:
        with state.change(ws, SYSTEM, SYSTEM, f"claim {task.id}", task.id) as change:
            fresh = tasks.load(ws).resolve(task.id)
            if fresh.state not in ("ready", "building"):
                held.release(f"the task is {fresh.state} now")
                return f"{task.id} is {fresh.state} now"
            start, tip = _start(ws, setup_, fresh)
            c = held.claim
            ledger.record(
                change,
                "claim.acquired",
                data={
                    "generation": c.generation,
                    "agent": c.actor,
                    "host": c.host,
                    "pid": c.pid,
                    "expires": round(c.expires, 3),
                    "reclaimed_from": c.reclaimed_from,
                    "remote": setup_.settings.remote,
                },
            )
            _stop_orphan(change, c.reclaimed_from)
            if fresh.state != "building":
                fresh = taskops.set_state(
                    ws,
                    change,
                    fresh,
                    "building",
                    reason=f"claimed by {c.actor}, generation {c.generation}",
                )
    except BaseException:
        held.release("dispatch failed before the build began")
        raise
    plan = Plan(fresh, setup_.agent, setup_.base, setup_.base_sha, start, tip, setup_.secrets)
    return held, plan


def _stop_orphan(change: state.Change, previous: Any) -> None:
    """Stop the agent of a reclaimed claim when its dispatcher died on this machine.

    Its lease expired and was reclaimed, so nothing it does can be committed;
    left running it would write into the worktree the new build resets.
    """
    if not isinstance(previous, dict) or previous.get("host") != socket.gethostname():
        return
    pid, started = previous.get("agent_pid"), previous.get("agent_start")
    holder = previous.get("pid")
    if not isinstance(pid, int) or not isinstance(holder, int) or isolation.alive(holder):
        return
    if isolation.alive(pid, started if isinstance(started, int) else None):
        isolation.kill_group(pid)
        ledger.record(
            change,
            "agent.stopped",
            result="ok",
            reason=f"its dispatcher (pid {holder}) is gone and its lease was reclaimed",
            data={"pid": pid, "generation": previous.get("generation")},
        )


def describe(ws: Workspace, setup_: Setup, task: tasks.Task) -> dict[str, Any]:
    """What a build of ``task`` would do (for --dry-run)."""
    start, tip = _start_local(ws, setup_, task)
    agent = setup_.agent
    return {
        "task": task.id,
        "title": task.title,
        "reclaim": task.state == "building",
        "agent": agent.name,
        "command": list(agent.command) if agent.command else None,
        "worktree": str(worktrees.path_for(ws, task.id)),
        "start": start,
        "branch": f"lanes/{task.id}" + ("" if tip else " (new)"),
        "checks": list(setup_.settings.checks),
    }


def _start_local(ws: Workspace, setup_: Setup, task: tasks.Task) -> tuple[str, str | None]:
    tip = git.rev_parse(f"refs/heads/lanes/{task.id}", ws.root)
    return (tip or setup_.base_sha), tip


def run(ws: Workspace, options: Options, report: Reporter) -> Report:
    setup_ = setup(ws, options.agent)
    out = Report()
    if options.dry_run:
        for task, held in candidates(ws, tasks.load(ws), time.time()):
            if held:
                out.skipped.append((task.id, held))
            elif len(out.planned) < options.max:
                out.planned.append(describe(ws, setup_, task))
        return out
    running: dict[Future[BuildResult], str] = {}
    with ThreadPoolExecutor(max_workers=options.max, thread_name_prefix="build") as pool:
        rounds = 0
        while True:
            if rounds == 0 or not options.once:
                for taken, plan in _claim_round(ws, setup_, options, running, out, report, rounds):
                    future = pool.submit(build.run, ws, plan, taken, setup_.settings, report)
                    running[future] = plan.task.id
            rounds += 1
            if not running:
                break
            done, _ = wait(list(running), timeout=options.poll_s, return_when=FIRST_COMPLETED)
            for future in done:
                running.pop(future)
                out.results.append(future.result())
    return out


def _claim_round(
    ws: Workspace,
    setup_: Setup,
    options: Options,
    running: dict[Future[BuildResult], str],
    out: Report,
    report: Reporter,
    rounds: int,
) -> list[tuple[lease.Lease, Plan]]:
    """Claim candidates into the free slots; the first round reports what it skips."""
    taken: list[tuple[lease.Lease, Plan]] = []
    for task, held in candidates(ws, tasks.load(ws), time.time()):
        if len(running) + len(taken) >= options.max:
            break
        if task.id in running.values():
            continue
        got = claim(ws, setup_, task) if held is None else held
        if isinstance(got, str):
            if rounds == 0:
                out.skipped.append((task.id, got))
                report(task.id, "skipped", got)
            continue
        report(task.id, "claimed", f"generation {got[0].generation} for {setup_.agent.name}")
        taken.append(got)
    return taken
