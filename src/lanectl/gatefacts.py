"""Gathering the gate's :class:`~lanectl.gate.Facts` (all the I/O of the gate).

Policy, agents, humans, allowed signers, risk rules and ADRs come from the
base branch's commit; the head and its commits from ``lanes/<task>`` read
through :mod:`lanectl.gitverify`; reviews and check results from signed
records on the state branch; who marked the task ready and which red-rule
events are open from the ledger.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lanectl import (
    adrs,
    evidence,
    git,
    gitverify,
    globs,
    logquery,
    risk,
    signers,
    standing,
    waivers,
)
from lanectl.gate import APPROVAL_TRAILER, Facts, GateResult, evaluate
from lanectl.records import CheckResult, Review
from lanectl.tasks import Task
from lanectl.workspace import DECISIONS_DIR, Workspace

REVOKED_PATH = ".lanes/revoked_signers"


def task_branch(task_id: str) -> str:
    return f"lanes/{task_id}"


@contextmanager
def verify_options(ws: Workspace, trust: signers.Trust) -> Iterator[tuple[str, ...]]:
    """git ``-c`` options verifying against the base branch's signers and revocations."""
    revoked = git.show_file(trust.commit, REVOKED_PATH, ws.root)
    with signers.materialized(trust.text) as allowed:
        revocation = None
        if revoked is not None:
            revocation = allowed.with_name("revoked_signers")
            revocation.write_bytes(revoked)
        with gitverify.verifying(allowed, revocation) as options:
            yield options


def diff_sha256(repo: Path, base: str, head: str) -> str:
    """The digest reviewers record as ``diff_sha256``: the full diff from the merge base."""
    proc = git.run(
        ["-c", "core.commitGraph=false", "diff", "--no-ext-diff", "--no-textconv", "--no-color",
         "--binary", "--no-renames", f"{base}...{head}"],
        repo,
    )  # fmt: skip
    return hashlib.sha256(proc.stdout).hexdigest()


def _design_adrs(ws: Workspace, base_sha: str, changed: tuple[str, ...]) -> tuple[str, ...]:
    found: list[str] = []
    for name in git.ls_tree_names(base_sha, DECISIONS_DIR, ws.root):
        if not name.endswith(".md"):
            continue
        data = git.show_file(base_sha, f"{DECISIONS_DIR}/{name}", ws.root)
        if data is None:
            continue
        try:
            adr, _ = adrs.parse_text(name, data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            continue
        if adr is None or adr.status != "accepted" or not adr.paths:
            continue
        if any(globs.match_any(adr.paths, path) for path in changed):
            found.append(adr.number)
    return tuple(found)


def _ready_by(ws: Workspace, task_id: str) -> str | None:
    events = logquery.scan(ws.log_dir, logquery.Filters(task=task_id, kind="task.state"))
    who = None
    for event, _ in events:
        data = event.get("data") if isinstance(event.get("data"), dict) else {}
        if isinstance(data, dict) and data.get("to") == "ready":
            who = str(event.get("actor")) if event.get("role") == "human" else None
    return who


# Refused attempts (policy.enforce, Guard.deny). A paused budget or a builder that
# waits for one is recorded with result "blocked" too, but nobody attempted anything.
ATTEMPT_KINDS = ("tool.denied", "gate.blocked")


def open_blocks(ws: Workspace, task_id: str) -> list[dict[str, Any]]:
    """Red-rule events for the task that no human has acknowledged yet."""
    blocked = [
        e
        for e, _ in logquery.scan(ws.log_dir, logquery.Filters(task=task_id, result="blocked"))
        if e.get("kind") in ATTEMPT_KINDS
    ]
    acked: set[str] = set()
    for event, _ in logquery.scan(
        ws.log_dir, logquery.Filters(task=task_id, kind="gate.acknowledged")
    ):
        data = event.get("data") if isinstance(event.get("data"), dict) else {}
        if event.get("role") == "human" and isinstance(data, dict):
            acked.update(str(i) for i in data.get("events") or [])
    return [e for e in blocked if e.get("id") not in acked]


def landed(ws: Workspace, task_id: str, base: str) -> dict[str, Any] | None:
    """The task's ``merge.done`` event, when its merge commit is in the base branch's history."""
    events = logquery.scan(ws.log_dir, logquery.Filters(task=task_id, kind="merge.done"))
    for event, _ in reversed(list(events)):
        data = event.get("data") if isinstance(event.get("data"), dict) else {}
        merge = data.get("merge") if isinstance(data, dict) else None
        if not isinstance(merge, str) or not re.fullmatch(r"[0-9a-f]{40}([0-9a-f]{24})?", merge):
            continue
        check = ["merge-base", "--is-ancestor", merge, f"refs/heads/{base}"]
        if git.run(check, ws.root, check=False).returncode == 0:
            return {"merge": merge, "approval": data.get("approval"), "ts": event.get("ts")}
    return None


def _describe(event: dict[str, Any]) -> str:
    attempted = event.get("attempted") or [event.get("kind")]
    return f"{event.get('actor')} ({event.get('role')}): {'; '.join(map(str, attempted))}"


def _empty_approvals(repo: Path, commits: Sequence[gitverify.Commit]) -> tuple[str, ...]:
    """Approval commits inside base..H that change nothing (tree = their parent's).

    They are history, not work: a later approval supersedes them, and they are
    nobody's contribution to the diff. A commit that carries the trailer but
    changes files is judged like any other commit.
    """
    trees = {c.sha: c.tree for c in commits}
    empty: list[str] = []
    for c in commits:
        if c.trailer(APPROVAL_TRAILER) is None or len(c.parents) != 1:
            continue
        parent = c.parents[0]
        parent_tree = trees[parent] if parent in trees else standing.tree_of(repo, parent)
        if parent_tree == c.tree:
            empty.append(c.sha)
    return tuple(empty)


def gather(ws: Workspace, task: Task) -> Facts:
    gitverify.refuse_shallow(ws.root)
    trust = signers.load_trust(ws)
    base, base_sha, raw = signers.load_base_config(ws)
    agents = {str(k): dict(v) for k, v in (raw.get("agents") or {}).items() if isinstance(v, dict)}
    policy = raw.get("policy") if isinstance(raw.get("policy"), dict) else {}
    assert isinstance(policy, dict)
    human_of: dict[str, str] = {}
    for signer in trust.signers:
        for principal in signer.principals:
            human = signers.human_of(principal, trust.humans)
            if human is not None:
                human_of[principal] = human
    tip = git.rev_parse(f"refs/heads/{task_branch(task.id)}", ws.root)
    head: str | None = None
    approval = None
    commits: tuple[gitverify.Commit, ...] = ()
    with verify_options(ws, trust) as options:
        if tip is not None:
            top = gitverify.commit(ws.root, tip, options)
            if top.trailer(APPROVAL_TRAILER) is not None and len(top.parents) == 1:
                approval, head = top, top.parents[0]
            else:
                head = tip
            commits = tuple(gitverify.commits(ws.root, [head, f"^{base_sha}"], options))
    checks: list[CheckResult] = []
    reviews: list[Review] = []
    ignored: list[str] = []
    changed: tuple[str, ...] = ()
    assessed = risk.compute(task.risk, (), risk.rules_from_config(raw))
    digest = None
    up_to_date = merges = False
    if head is not None:
        assessed = risk.assess(ws.root, base_sha, head, task.risk, raw)
        changed = assessed.paths
        for kind in ("check", "review"):
            verified, skipped = evidence.collect(ws, task.id, head, kind)
            for v in verified:
                if isinstance(v.record, CheckResult):
                    checks.append(v.record)
                else:
                    reviews.append(v.record)
            ignored += [str(i) for i in skipped]
        digest = diff_sha256(ws.root, base_sha, head)
        up_to_date = gitverify.is_ancestor(ws.root, base_sha, head)
        merges = up_to_date or gitverify.merges_cleanly(ws.root, base_sha, head)
    waived, unsigned = waivers.collect(ws, task.id)
    ignored += [str(i) for i in unsigned]
    standing_approvals: tuple[standing.Standing, ...] = ()
    if approval is None and assessed.effective == "low":
        with verify_options(ws, trust) as options:
            standing_approvals = standing.collect(ws.root, base_sha, options)
    return Facts(
        task_id=task.id,
        title=task.title,
        has_goal=task.has_goal,
        has_acceptance=task.has_acceptance,
        ready_by=_ready_by(ws, task.id),
        base=base,
        base_sha=base_sha,
        head=head,
        approval=approval,
        commits=commits,
        changed=changed,
        risk=assessed,
        write_scope=task.paths,
        agents=agents,
        human_of=human_of,
        diversity=str(policy.get("diversity") or "strict"),
        checks_configured=tuple(str(c) for c in raw.get("checks") or []),
        checks=tuple(checks),
        reviews=tuple(reviews),
        ignored=tuple(ignored),
        diff_sha256=digest,
        design_adrs=_design_adrs(ws, base_sha, changed) if head else (),
        up_to_date=up_to_date,
        merges_cleanly=merges,
        open_blocks=tuple(_describe(e) for e in open_blocks(ws, task.id)),
        stale_approvals=_empty_approvals(ws.root, commits),
        standing=standing_approvals,
        now=datetime.now(UTC),
        waivers=tuple(waived),
    )


def judge(ws: Workspace, task: Task) -> GateResult:
    return evaluate(gather(ws, task))
