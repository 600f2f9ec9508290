"""The gate (SPEC §6): a pure evaluation of facts read from git and signed evidence.

:mod:`lanectl.gatefacts` gathers :class:`Facts` (all I/O); :func:`evaluate`
turns them into ✓/✗ per stage with the concrete reason and the next step. No
field a task file or an agent writes is trusted for a verdict: the builder is
whoever *signed* the commits, families come from the base branch's config,
reviews and check results count only when signed by a key the base branch
allows, and the approval is a signed commit bound to the head.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from lanectl import globs
from lanectl.gitverify import Commit
from lanectl.records import CheckResult, Review
from lanectl.risk import RiskResult, rank
from lanectl.standing import Standing
from lanectl.standing import problem as standing_problem

if TYPE_CHECKING:
    from lanectl.waivers import Waiver

STAGES = (
    "spec",
    "implementation",
    "review.correctness",
    "review.security",
    "review.design",
    "eligibility",
    "approval",
)
PASS, FAIL, SKIP = "pass", "fail", "skip"
APPROVAL_TRAILER = "Lane-Approves"
SIGNATURE_PROBLEMS = {
    "N": "is not signed",
    "B": "has a bad signature (or a revoked key)",
    "U": "is signed by a key not in the base branch's allowed_signers",
    "R": "is signed by a revoked key",
    "E": "cannot be checked",
}


@dataclass(frozen=True)
class Stage:
    name: str
    status: str  # pass | fail | skip (not required at this tier)
    reason: str
    next: str | None = None

    @property
    def ok(self) -> bool:
        return self.status != FAIL

    def to_json(self) -> dict[str, Any]:
        return {
            "stage": self.name,
            "passed": self.status == PASS,
            "status": self.status,
            "reason": self.reason,
            "next": self.next,
        }


@dataclass(frozen=True)
class Facts:
    """Everything the gate looks at, read from git, the base branch and evidence."""

    task_id: str
    title: str
    has_goal: bool
    has_acceptance: bool
    ready_by: str | None  # the human who marked it ready (from the ledger), if any
    base: str
    base_sha: str
    head: str | None  # H: the reviewed head (the approval's parent when there is one)
    approval: Commit | None  # A: the tip, when it is an approval commit
    commits: tuple[Commit, ...]  # base..H, newest first, with verified signatures
    changed: tuple[str, ...]
    risk: RiskResult
    write_scope: tuple[str, ...]  # the task's declared paths (empty: anywhere)
    agents: dict[str, dict[str, Any]]  # the base branch's config agents
    human_of: dict[str, str]  # signer principal → human id (from base config + signers)
    diversity: str
    checks_configured: tuple[str, ...]
    checks: tuple[CheckResult, ...]  # verified check results at H
    reviews: tuple[Review, ...]  # verified reviews at H
    ignored: tuple[str, ...]  # evidence ignored, with reasons
    diff_sha256: str | None
    design_adrs: tuple[str, ...]  # accepted ADRs on base whose paths: the diff touches
    up_to_date: bool
    merges_cleanly: bool
    open_blocks: tuple[str, ...]  # red-rule events for the task nobody acknowledged
    stale_approvals: tuple[str, ...] = ()  # empty approval commits inside base..H
    notes: tuple[str, ...] = field(default=())
    standing: tuple[Standing, ...] = ()  # standing approvals on the base branch, newest first
    now: datetime | None = None  # when the facts were read (standing approvals expire)
    waivers: tuple[Waiver, ...] = ()  # signed human waivers for the task that verify


@dataclass(frozen=True)
class GateResult:
    task_id: str
    title: str
    head: str | None
    approval: str | None
    tier: RiskResult
    builder: str | None
    stages: tuple[Stage, ...]
    ignored: tuple[str, ...] = ()
    standing: str | None = None  # the standing approval that covers the task, if one does
    waivers: tuple[str, ...] = ()  # the waivers the verdict counted, as labels

    @property
    def eligible(self) -> bool:
        return all(s.ok for s in self.stages if s.name != "approval")

    @property
    def approved(self) -> bool:
        return self.eligible and self.stage("approval").status == PASS

    @property
    def exit_ok(self) -> bool:
        """Everything up to approval holds, and the approval too when there is one."""
        return self.eligible and (self.approval is None or self.approved)

    def stage(self, name: str) -> Stage:
        return next(s for s in self.stages if s.name == name)

    def digest(self) -> str:
        """What a human approves: task, head, tier and the stages before approval."""
        seen = {
            "task": self.task_id,
            "head": self.head,
            "tier": self.tier.effective,
            "stages": [[s.name, s.status, s.reason] for s in self.stages if s.name != "approval"],
        }
        return hashlib.sha256(json.dumps(seen, sort_keys=True).encode()).hexdigest()

    def next_step(self) -> str | None:
        return next((s.next for s in self.stages if s.status == FAIL and s.next), None)

    def to_json(self) -> dict[str, Any]:
        return {
            "task": self.task_id,
            "title": self.title,
            "head": self.head,
            "approval": self.approval,
            "standing_approval": self.standing,
            "builder": self.builder,
            "tier": self.tier.to_json(),
            "eligible": self.eligible,
            "approved": self.approved,
            "gate_sha256": self.digest(),
            "stages": [s.to_json() for s in self.stages],
            "ignored_evidence": list(self.ignored),
            "waivers": list(self.waivers),
            "next": self.next_step(),
        }


# ---------------------------------------------------------------------------


def _short(sha: str | None) -> str:
    return sha[:7] if sha else "-"


def _spec(f: Facts) -> Stage:
    missing = [n for n, ok in (("Goal", f.has_goal), ("Acceptance", f.has_acceptance)) if not ok]
    if missing:
        return Stage("spec", FAIL, f"no {' or '.join(missing)} section", "write the task's spec")
    if f.ready_by is None:
        return Stage("spec", FAIL, "not marked ready by a human", f"lanectl task ready {f.task_id}")
    return Stage("spec", PASS, f"goal and acceptance; marked ready by {f.ready_by}")


def _builder(f: Facts) -> tuple[str | None, str | None, str]:
    """(builder principal, family, problem) from who signed base..H."""
    if f.head is None:
        return None, None, f"no branch lanes/{f.task_id} yet"
    work = [c for c in f.commits if c.sha not in f.stale_approvals]
    if not work:
        return None, None, "no commits on the task branch beyond the base"
    unsigned = [c for c in work if not c.good]
    if unsigned:
        c = unsigned[0]
        what = SIGNATURE_PROBLEMS.get(c.status, f"has signature status {c.status}")
        return None, None, f"commit {_short(c.sha)} {what}"
    principals = {c.principal for c in work}
    if len(principals) > 1:
        return None, None, f"commits are signed by several actors: {', '.join(sorted(principals))}"
    principal = principals.pop()
    if principal.startswith("agent:"):
        name = principal[len("agent:") :]
        agent = f.agents.get(name)
        if agent is None or agent.get("role") != "builder":
            return None, None, f"commits are signed by {principal}, which is not a builder"
        for c in work:
            actor = c.trailer("Lane-Actor")
            if actor is not None and actor != name:
                return (
                    None,
                    None,
                    f"commit {_short(c.sha)} says Lane-Actor {actor} but is signed by {principal}",
                )
        return name, str(agent.get("family")), ""
    if principal in f.human_of:
        return f"human:{f.human_of[principal]}", "human", ""
    return None, None, f"commits are signed by {principal}, who is neither a builder nor a human"


def _implementation(f: Facts, builder: str | None, problem: str) -> Stage:
    if builder is None:
        return Stage("implementation", FAIL, problem, "the builder must commit signed work")
    if f.write_scope:
        outside = [p for p in f.changed if not globs.match_any(f.write_scope, p)]
        if outside:
            return Stage(
                "implementation",
                FAIL,
                f"changes outside the task's paths: {', '.join(outside[:5])}",
                "move the change into scope, or a human widens the task's paths",
            )
    if not builder.startswith("human:"):
        policy = [p for p in f.changed if globs.match(".lanes/**", p)]
        if policy:
            return Stage(
                "implementation",
                FAIL,
                f"an agent changed lanectl policy ({policy[0]}); only a human may",
                "a human makes policy changes, through a high-tier task",
            )
    n = len([c for c in f.commits if c.sha not in f.stale_approvals])
    who = builder if builder.startswith("human:") else f"agent:{builder}"
    if f.checks_configured:
        green = [
            c for c in f.checks if c.passed and (builder.startswith("human:") or c.agent == builder)
        ]
        if not green:
            red = [c for c in f.checks if not c.passed]
            reason = "checks failed at " if red else "no signed check results at "
            return Stage(
                "implementation",
                FAIL,
                f"{n} commit(s) signed by {who}; {reason}{_short(f.head)}",
                "run the configured checks at the head",
            )
        return Stage(
            "implementation",
            PASS,
            f"{n} commit(s) signed by {who}; checks green at {_short(f.head)}",
        )
    return Stage("implementation", PASS, f"{n} commit(s) signed by {who}; no checks configured")


def _family(f: Facts, review: Review) -> str:
    return str(f.agents.get(review.agent, {}).get("family", review.family))


def _usable(f: Facts, reviews: list[Review]) -> tuple[list[Review], list[str]]:
    """Reviews of the exact diff, complete; and why the others do not count."""
    ok: list[Review] = []
    why: list[str] = []
    for review in reviews:
        if not review.complete:
            skipped = ", ".join(review.coverage.files_skipped[:3]) or "truncated"
            why.append(f"{review.agent}'s review is incomplete ({skipped})")
        elif f.diff_sha256 is not None and review.diff_sha256 != f.diff_sha256:
            why.append(f"{review.agent} reviewed a different diff")
        else:
            ok.append(review)
    return ok, why


def _review_stage(
    f: Facts, name: str, role: str, excluded: set[str], required: bool, why_required: str
) -> tuple[Stage, Review | None]:
    if not required:
        return Stage(name, SKIP, why_required), None
    if f.head is None:
        return Stage(name, FAIL, "nothing to review yet (no task branch)"), None
    candidates = [r for r in f.reviews if r.role == role]
    usable, problems = _usable(f, candidates)
    diverse = [r for r in usable if _family(f, r) not in excluded]
    if not diverse and usable and f.diversity == "warn":
        diverse = usable
        problems.append("same family as the builder (allowed: diversity is warn)")
    if not diverse:
        if usable:
            same = ", ".join(sorted(excluded))
            reason = f"{usable[0].agent} ({_family(f, usable[0])}) shares a family with {same}"
        elif problems:
            reason = "; ".join(problems)
        else:
            reason = f"no {role} review of {_short(f.head)}"
        return Stage(name, FAIL, reason, f"lanectl review {f.task_id} --role {role}"), None
    review = diverse[0]
    label = f"{review.agent} ({_family(f, review)})"
    if review.verdict == "veto":
        return Stage(
            name, FAIL, f"{label} vetoed: {_first(review)}", "a human resolves the veto"
        ), review
    blockers = review.blockers
    if review.verdict != "pass" or blockers:
        return (
            Stage(
                name,
                FAIL,
                f"{label}: {review.verdict}, {len(blockers)} blocker(s): {_first(review)}",
                "the builder addresses the findings; then review again",
            ),
            review,
        )
    minor = len(review.findings)
    return Stage(
        name, PASS, f"{label}: pass" + (f", {minor} minor finding(s)" if minor else "")
    ), review


def _first(review: Review) -> str:
    blockers = review.blockers or review.findings
    return blockers[0].title if blockers else "no findings given"


def evaluate(f: Facts) -> GateResult:
    tier = f.risk.effective
    builder, family, problem = _builder(f)
    stages = [_spec(f), _implementation(f, builder, problem)]
    builder_family = {family} if family and family != "human" else set()
    correctness, reviewer = _review_stage(
        f, "review.correctness", "reviewer", builder_family, True, ""
    )
    stages.append(correctness)
    security_needed = rank(tier) >= rank("medium")
    security, waived = _security_stage(f, builder_family, reviewer, security_needed)
    stages.append(security)
    design_needed = tier == "high" or (tier == "medium" and bool(f.design_adrs))
    design_why = f"not required for {tier} tier" + (
        "" if f.design_adrs else "; no ADR-governed paths touched"
    )
    design, _ = _review_stage(f, "review.design", "designer", set(), design_needed, design_why)
    stages.append(design)
    stages.append(_eligibility(f, stages))
    stages.append(_approval(f, stages[-1].ok, builder))
    covering = _covering(f) if f.approval is None and stages[-1].status == PASS else None
    return GateResult(
        task_id=f.task_id,
        title=f.title,
        head=f.head,
        approval=f.approval.sha if f.approval else None,
        tier=f.risk,
        builder=builder,
        stages=tuple(stages),
        ignored=f.ignored,
        standing=covering.sha if covering else None,
        waivers=(f"{waived.label()} for review.security",) if waived else (),
    )


def _security_stage(
    f: Facts, builder_family: set[str], reviewer: Review | None, required: bool
) -> tuple[Stage, Waiver | None]:
    """Security from a family other than the builder's and, under strict, the reviewer's.

    With ``diversity: strict`` and no security agent of a third family configured,
    only a signed human diversity waiver lets the reviewer's family do it (ADR 0024).
    """
    name, why_not = "review.security", f"not required for {f.risk.effective} tier"
    excluded = set(builder_family)
    waiver = None
    if required and reviewer is not None and f.diversity == "strict":
        third = excluded | {_family(f, reviewer)}
        if any(
            a.get("role") == "security" and a.get("family") not in third for a in f.agents.values()
        ):
            excluded = third
        else:
            waiver = next(
                (w for w in f.waivers if w.kind == "diversity" and "security" in w.roles), None
            )
            if waiver is None:
                families = " and ".join(sorted(third))
                return Stage(
                    name,
                    FAIL,
                    f"diversity is strict and no security agent from a family other than "
                    f"{families} is configured",
                    f"configure one on {f.base}, or a human waives it: "
                    f"lanectl waive {f.task_id} --diversity --key KEY",
                ), None
    stage, _ = _review_stage(f, name, "security", excluded, required, why_not)
    if waiver is not None and stage.status == PASS:
        stage = Stage(name, PASS, f"{stage.reason}; third family waived: {waiver.label()}")
    return stage, waiver if stage.status == PASS else None


def _eligibility(f: Facts, before: list[Stage]) -> Stage:
    waiting = [s.name for s in before if not s.ok]
    if waiting:
        return Stage("eligibility", FAIL, f"waits on {', '.join(waiting)}")
    if f.risk.secrets:
        return Stage(
            "eligibility",
            FAIL,
            f"possible secret in the diff: {f.risk.secrets[0]}",
            "remove it from the branch history; rotate it if it was real",
        )
    if f.open_blocks:
        return Stage(
            "eligibility",
            FAIL,
            f"{len(f.open_blocks)} red-rule event(s) not acknowledged: {f.open_blocks[0]}",
            f"a human reviews them: lanectl log --task {f.task_id} --result blocked",
        )
    if not f.up_to_date and not f.merges_cleanly:
        return Stage(
            "eligibility",
            FAIL,
            f"{f.base} moved and does not merge cleanly with {_short(f.head)}",
            f"the builder rebases or merges {f.base}",
        )
    base = "up to date with" if f.up_to_date else "merges cleanly into"
    return Stage("eligibility", PASS, f"tier {f.risk.effective}; {base} {f.base}")


def _covering(f: Facts) -> Standing | None:
    """The newest standing approval that covers this low-tier task now, if any."""
    if f.risk.effective != "low" or f.now is None or f.head is None:
        return None
    return next(
        (s for s in f.standing if standing_problem(s, f.changed, f.now, f.human_of) is None),
        None,
    )


def _approval(f: Facts, eligible: bool, builder: str | None) -> Stage:
    go = f"lanectl approve {f.task_id}"
    a = f.approval
    if a is None:
        covering = _covering(f)
        if covering is not None:
            label = covering.label(f.human_of.get(covering.principal))
            if not eligible:
                return Stage("approval", FAIL, f"{label} covers it, but the stages before it fail")
            return Stage("approval", PASS, f"covered by {label}")
        if f.stale_approvals:
            return Stage(
                "approval",
                FAIL,
                f"approval {_short(f.stale_approvals[0])} is stale: commits were added after it",
                go,
            )
        reason = "needs a signed approval commit by a human"
        if f.risk.effective == "low" and f.standing and f.now is not None and f.head:
            why = standing_problem(f.standing[0], f.changed, f.now, f.human_of)
            reason += f" (no standing approval covers it: {why})" if why else ""
        return Stage("approval", FAIL, reason, go if eligible else None)
    problem = _approval_problem(f, a, builder)
    if problem:
        return Stage("approval", FAIL, f"approval {_short(a.sha)} does not count: {problem}", go)
    if not eligible:
        return Stage(
            "approval", FAIL, f"approval {_short(a.sha)} is there, but the stages before it fail"
        )
    return Stage(
        "approval",
        PASS,
        f"signed by {f.human_of[a.principal]} ({a.principal}), parent {_short(f.head)}",
    )


def _approval_problem(f: Facts, a: Commit, builder: str | None) -> str | None:
    if a.status != "G" or not a.principal:
        return {
            "N": "it is not signed (a rebased copy loses its signature)",
            "U": "signed by a key not in the base branch's allowed_signers",
            "B": "bad signature, or a revoked key",
            "R": "signed by a revoked key",
        }.get(a.status, f"signature status {a.status}")
    if a.principal.startswith("agent:") or a.principal not in f.human_of:
        return f"signed by {a.principal}, who is not a human in the base branch's config"
    if a.parents != ((f.head,) if f.head else ()):
        return "its parent is not the reviewed head"
    if f.commits and a.tree != f.commits[0].tree:
        return "its tree differs from the head's (an approval changes nothing)"
    if a.trailer("Lane-Task") != f.task_id:
        return f"it names task {a.trailer('Lane-Task')}, not {f.task_id}"
    if a.trailer(APPROVAL_TRAILER) != f.head:
        return f"it approves {_short(a.trailer(APPROVAL_TRAILER))}, not the head {_short(f.head)}"
    approved_tier = a.trailer("Lane-Tier") or "low"
    if rank(approved_tier) < rank(f.risk.effective):
        return f"it approves tier {approved_tier}; the task is now {f.risk.effective}"
    if f.risk.effective == "high":
        if any(c.principal == a.principal for c in f.commits if c.sha not in f.stale_approvals):
            return "for high tier the approver must not have signed commits in the range"
        if builder == f"human:{f.human_of[a.principal]}":
            return "for high tier the approver must be another human than the builder"
    return None
