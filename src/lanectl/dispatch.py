"""``lanectl dispatch``: claim ready tasks and run their builders, several at once.

A task is picked when it is ready (state ``ready``, every dependency merged)
or when it is ``building`` but its lease expired or vanished (its dispatcher
crashed): that one is reclaimed with the next generation. Each pick takes the
task's lease first (:mod:`lanectl.lease`); a task someone else holds is
skipped. Then the task moves to ``building`` and a worker thread runs
:func:`lanectl.build.run`. The builder agent is the first agent with role
builder in the base branch's config, or the one named. Policy, agents, checks
and ``dispatch:`` settings all come from the base branch.

Builders start only as fast as their budget allows (ADR 0028): no more on a
budget at once than its ``max_concurrency`` and the pacer's current adaptive
concurrency, counting every live claim on this machine whose agent draws from
it; none while the budget is paused by a 429 (dispatch waits it out, or with
``--once`` leaves the task ready) or halted by quota or a rejected key (a human
is needed). Each such decision is a ``dispatch.waiting`` event and a progress line.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from lanectl import (
    budgetwatch,
    build,
    git,
    isolation,
    keys,
    lease,
    ledger,
    policy,
    runners,
    sandbox,
    sandboxrules,
    state,
    taskops,
    tasks,
    timefmt,
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
    only: str | None = None  # build this task and no other (``lanectl run``)


@dataclass
class Report:
    results: list[BuildResult] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (task, why)
    planned: list[dict[str, Any]] = field(default_factory=list)  # --dry-run
    waiting: list[dict[str, Any]] = field(default_factory=list)  # budget decisions
    warnings: list[str] = field(default_factory=list)  # e.g. agents run unsandboxed

    @property
    def halted(self) -> bool:
        """A budget stopped by quota or credential left ready tasks unbuilt."""
        return any(w["kind"] == "halted" for w in self.waiting)

    def to_json(self) -> dict[str, Any]:
        return {
            "built": [r.to_json() for r in self.results],
            "skipped": [{"task": t, "reason": why} for t, why in self.skipped],
            "planned": self.planned,
            "waiting": self.waiting,
            "warnings": self.warnings,
        }


@dataclass(frozen=True)
class Setup:
    """Everything read once from the base branch before any claim is taken."""

    base: str
    base_sha: str
    agent: AgentSpec
    settings: Settings
    secrets: tuple[str, ...]
    budget: Mapping[str, Any] | None = None  # the builder's budget block
    budgets: Mapping[str, str] = field(default_factory=dict)  # agent → its budget


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
    budget = budgetwatch.budgets_of(base.raw).get(agent.budget) if agent.budget else None
    agents = base.raw.get("agents") if isinstance(base.raw.get("agents"), dict) else {}
    budgets = {str(n): b for n in agents or {} if (b := budgetwatch.agent_budget(base.raw, n))}
    return Setup(base.branch, base_sha, agent, settings, tuple(sorted(secrets)), budget, budgets)


def room(
    ws: Workspace, setup_: Setup, claims: Mapping[str, tuple[str, lease.Claim | None]]
) -> budgetwatch.Allowance:
    """How many more builders may start on the builder's budget now (ADR 0028)."""
    name = setup_.agent.budget
    if name is None:
        return budgetwatch.allowance(None, None, None, 0)
    pulse = budgetwatch.pulses(ws, [name]).get(name)
    return budgetwatch.allowance(name, setup_.budget, pulse, len(_on_budget(setup_, claims)))


def _on_budget(
    setup_: Setup, claims: Mapping[str, tuple[str, lease.Claim | None]]
) -> list[lease.Claim]:
    """Live claims on this machine whose agent draws from the builder's budget, oldest first."""
    now, host = time.time(), socket.gethostname()
    found = [
        c
        for _, c in claims.values()
        if c is not None and c.live(now) and c.host == host
        and setup_.budgets.get(c.actor) == setup_.agent.budget
    ]  # fmt: skip
    return sorted(found, key=lambda c: (c.acquired, c.token))


def candidates(
    ws: Workspace,
    taskset: tasks.TaskSet,
    now: float,
    claims: Mapping[str, tuple[str, lease.Claim | None]] | None = None,
) -> list[tuple[tasks.Task, str | None]]:
    """Tasks to build, oldest first, each with why it is held by someone (None: free)."""
    claims = lease.list_claims(ws.root) if claims is None else claims
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


def claim(
    ws: Workspace, setup_: Setup, task: tasks.Task, limit: int | None = None
) -> tuple[lease.Lease, Plan] | str:
    """Take the task's lease and move it to building; a string says why not.

    ``limit`` caps the builders on the budget: another dispatcher may have
    claimed in the same moment, so once the lease is ours the claims are counted
    again and the later ones beyond the cap give theirs back.
    """
    found = lease.current(ws.root, task.id, setup_.settings.remote)
    built = _built_elsewhere(found[1] if found else None, task)
    if built is not None:
        return built
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
    if limit is not None:
        mine = [c.token for c in _on_budget(setup_, lease.list_claims(ws.root))]
        if held.claim.token in mine[limit:]:
            why = f"waiting for budget {setup_.agent.budget}: {limit} builder(s) run on it"
            held.release(why)
            return why
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


FINISHED = ("review: ", "blocked: ")  # how a build that ran to its end releases its claim


def _built_elsewhere(claim: lease.Claim | None, task: tasks.Task) -> str | None:
    """Why not to build ``task``: its last claim is a finished build that ended after the
    task became ready here, so this clone's state is behind (another clone built it)."""
    if claim is None or not claim.released or not (claim.reason or "").startswith(FINISHED):
        return None
    ready = timefmt.parse_ts(task.state_since or "")
    if ready is None or ready.timestamp() >= claim.expires:
        return None  # ready again since that build (changes requested): build it again
    return (
        f"{task.id} was built by {claim.actor} on {claim.host} (generation "
        f"{claim.generation}, {claim.reason}) after it became ready here: this clone's "
        "state is behind; pull the state branch"
    )


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


MAX_NAP_S = 5.0  # a dispatcher waiting on a budget looks again at least this often


def confinement(settings: Settings) -> str | None:
    """The warning to print when agent processes cannot be sandboxed (None: they are);
    refuses when the base branch requires the sandbox (ADR 0032)."""
    sandboxrules.check_settings(settings.sandbox)
    if sandbox.abi() > 0:
        return None
    level, _code, message, fix = sandboxrules.status(settings.sandbox.required)
    if level == "error":
        raise Refused(message, hint=fix)
    return f"{message}; {fix}"


def run(ws: Workspace, options: Options, report: Reporter) -> Report:
    setup_ = setup(ws, options.agent)
    out = Report()
    warning = confinement(setup_.settings)
    if warning is not None:
        out.warnings.append(warning)
        report("sandbox", "warning", warning)
    if options.dry_run:
        claims = lease.list_claims(ws.root)
        allow = room(ws, setup_, claims)
        cap = options.max if allow.slots is None else min(options.max, allow.slots)
        for task, held in _only(options, candidates(ws, tasks.load(ws), time.time(), claims)):
            if held:
                out.skipped.append((task.id, held))
            elif len(out.planned) < cap:
                out.planned.append(describe(ws, setup_, task))
            elif len(out.planned) < options.max:
                out.skipped.append((task.id, _waiting(allow)))
        if allow.kind != "ok":
            out.waiting.append({**allow.to_json(), "message": _waiting(allow)})
        return out
    running: dict[Future[BuildResult], str] = {}
    noted: dict[str, str] = {}
    with ThreadPoolExecutor(max_workers=options.max, thread_name_prefix="build") as pool:
        rounds = 0
        while True:
            held_back: budgetwatch.Allowance | None = None
            if rounds == 0 or not options.once:
                taken, held_back = _claim_round(
                    ws, setup_, options, running, out, report, rounds, noted
                )
                for got, plan in taken:
                    future = pool.submit(build.run, ws, plan, got, setup_.settings, report)
                    running[future] = plan.task.id
            rounds += 1
            if not running:
                if options.once or held_back is None or held_back.kind == "halted":
                    break
                # Ready work waits on the budget (a pause, or builders elsewhere): look again.
                time.sleep(min(held_back.retry_in or options.poll_s, MAX_NAP_S))
                continue
            done, _ = wait(list(running), timeout=options.poll_s, return_when=FIRST_COMPLETED)
            for future in done:
                running.pop(future)
                out.results.append(future.result())
    return out


def _only(
    options: Options, found: list[tuple[tasks.Task, str | None]]
) -> list[tuple[tasks.Task, str | None]]:
    return found if options.only is None else [c for c in found if c[0].id == options.only]


def _waiting(allow: budgetwatch.Allowance) -> str:
    return f"waiting for budget {allow.budget}: {allow.reason}"


def _claim_round(
    ws: Workspace,
    setup_: Setup,
    options: Options,
    running: dict[Future[BuildResult], str],
    out: Report,
    report: Reporter,
    rounds: int,
    noted: dict[str, str],
) -> tuple[list[tuple[lease.Lease, Plan]], budgetwatch.Allowance | None]:
    """Claim candidates into the free slots the budget leaves; the first round reports
    what it skips. Returns the claims, and the allowance if it held ready work back."""
    taken: list[tuple[lease.Lease, Plan]] = []
    claims = lease.list_claims(ws.root)
    found = _only(options, candidates(ws, tasks.load(ws), time.time(), claims))
    free = [t for t, held in found if held is None and t.id not in running.values()]
    allow = room(ws, setup_, claims) if free else budgetwatch.allowance(None, None, None, 0)
    slots = options.max - len(running)
    by_budget = allow.slots is not None and allow.slots < slots
    if allow.slots is not None:
        slots = min(slots, allow.slots)
    for task, held in found:
        if len(taken) >= slots:
            break
        if task.id in running.values():
            continue
        got = claim(ws, setup_, task, allow.limit) if held is None else held
        if isinstance(got, str):
            if got.startswith("waiting for budget"):
                allow, by_budget = allow.full(), True
                break
            if rounds == 0:
                out.skipped.append((task.id, got))
                report(task.id, "skipped", got)
            continue
        report(task.id, "claimed", f"generation {got[0].generation} for {setup_.agent.name}")
        taken.append(got)
    claimed = {plan.task.id for _, plan in taken}
    left = [t.id for t in free if t.id not in claimed]
    if not left or not by_budget:
        return taken, None
    allow = allow if allow.kind != "ok" else allow.full()
    _note(ws, allow, left, out, report, noted)
    return taken, allow


def _note(
    ws: Workspace,
    allow: budgetwatch.Allowance,
    left: list[str],
    out: Report,
    report: Reporter,
    noted: dict[str, str],
) -> None:
    """Say (once per change) that ready tasks wait on the budget, and why."""
    budget = str(allow.budget)
    if noted.get(budget) == allow.kind:
        return
    noted[budget] = allow.kind
    message = _waiting(allow)
    out.waiting.append({**allow.to_json(), "message": message, "tasks": left})
    for task_id in left:
        report(task_id, "waiting", message)
    with state.change(ws, SYSTEM, SYSTEM, f"dispatch waits for budget {budget}") as change:
        ledger.record(
            change,
            "dispatch.waiting",
            result="blocked",
            reason=message,
            data={**allow.to_json(), "tasks": left[:50]},
        )
