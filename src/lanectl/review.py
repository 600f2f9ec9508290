"""``lanectl review``: the cross-family reviews of a task's head, signed and recorded.

    outcomes = review.run_reviews(ws, "T-7K2M9Q4D", roles=None, report=callback)

For the head H of ``lanes/<task>`` (the approval's parent when the tip is an
approval): the builder is whoever *signed* base..H (the gate's own reading),
the tier and the ADR-governed paths come from the base branch, and so do the
agents. :mod:`lanectl.reviewassign` picks one reviewer per required role by
family, or the whole run is refused (exit 3, ``review.refused``) naming what
to configure. Each review then runs in its own thread — paced by the shared
:class:`~lanectl.gateway.Gateway` — and ends as a review record signed with
the reviewer agent's key (:func:`lanectl.evidence.write_signed_record`):

* ``current``: the agent already reviewed this head with the same diff, model
  and prompt — nothing is sent;
* ``reused``: it reviewed the same diff at another head (a rebase) — a new
  record at H cites that one (``reused_from``), no model call;
* ``recorded``: the model reviewed every file;
* ``incomplete``: files were skipped (too big for the call budget, or an
  answer that stayed invalid after one retry, or a provider failure). It is
  recorded (``review.recorded`` and ``review.incomplete``) and the gate does
  not count it.

On a remote forge each review is then posted as a COMMENT with inline
comments, one sticky summary per role is refreshed, and the ``lanectl/gate``
status is set (:mod:`lanectl.reviewpost`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from lanectl import (
    evidence,
    gate,
    gatefacts,
    git,
    ledger,
    records,
    reviewassign,
    reviewcache,
    reviewcall,
    reviewdiff,
    reviewprompt,
    signers,
    state,
    tasks,
    waivers,
    yamlio,
)
from lanectl.errors import LaneError
from lanectl.gate import FAIL, Stage
from lanectl.refusal import Refusal, record_refusal
from lanectl.risk import rank
from lanectl.routing import resolve
from lanectl.workspace import Workspace, actor

Reporter = Callable[[str, str, str], None]  # (role label, phase, message); may come from threads
LABELS = reviewassign.LABELS
DEFAULTS = {"max_input_tokens": 24000, "max_output_tokens": 4096, "max_calls": 12}
MIN_ROOM = 200  # tokens of diff a call must have room for, or nothing fits


@dataclass(frozen=True)
class ReviewOutcome:
    """What happened to one role's review of the head."""

    role: str  # reviewer | security | designer
    agent: str
    family: str
    model: str
    head: str
    status: str  # recorded | incomplete | reused | current | error
    reason: str  # one line for a person
    verdict: str | None = None
    path: str | None = None  # the record on the state branch
    findings: int = 0
    files_reviewed: int = 0
    files_skipped: tuple[str, ...] = ()
    calls: int = 0  # model requests sent for it
    reused_from: str | None = None  # the head whose review was carried over
    note: str = ""  # a rule the assignment bent (a waiver, diversity warn)
    record: records.Review | None = None
    forge: dict[str, Any] | None = None  # where it went on a remote forge
    forge_error: str | None = None

    @property
    def label(self) -> str:
        return LABELS.get(self.role, self.role)

    @property
    def counts(self) -> bool:
        """A complete review record exists for the head (the gate judges its verdict)."""
        return self.status in ("recorded", "reused", "current")

    def to_json(self) -> dict[str, Any]:
        return {
            "role": self.role,
            "agent": self.agent,
            "family": self.family,
            "model": self.model,
            "head": self.head,
            "status": self.status,
            "complete": self.counts,
            "verdict": self.verdict,
            "reason": self.reason,
            "path": self.path,
            "findings": self.findings,
            "files_reviewed": self.files_reviewed,
            "files_skipped": list(self.files_skipped),
            "calls": self.calls,
            "reused_from": self.reused_from,
            "note": self.note or None,
            "forge": self.forge,
            "forge_error": self.forge_error,
        }


@dataclass(frozen=True)
class Context:
    """Everything read once, before any model call."""

    task: tasks.Task
    facts: gate.Facts
    head: str
    builder: str
    builder_family: str | None  # None for a person
    raw: Mapping[str, Any]  # the base branch's config
    adr_numbers: tuple[str, ...]
    task_text: str
    commits: str
    files: tuple[reviewdiff.FileDiff, ...]
    settings: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULTS))

    @property
    def tier(self) -> str:
        return self.facts.risk.effective


def required_roles(facts: gate.Facts) -> list[str]:
    """The review roles the gate asks for at this tier (SPEC §5.3)."""
    tier = facts.risk.effective
    roles = ["reviewer"]
    if rank(tier) >= rank("medium"):
        roles.append("security")
    if tier == "high" or (tier == "medium" and facts.design_adrs):
        roles.append("designer")
    return roles


def _settings(raw: Mapping[str, Any]) -> dict[str, int]:
    section = raw.get("review") if isinstance(raw.get("review"), dict) else {}
    assert isinstance(section, dict)
    out = dict(DEFAULTS)
    for key in DEFAULTS:
        value = section.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            out[key] = value
    return out


def _task_text(ws: Workspace, task: tasks.Task) -> str:
    try:
        body = yamlio.split(tasks.read_text(ws, task), task.rel_path).body
    except LaneError:
        body = ""
    return f"# {task.title}\n\n{body.strip()}"


def _commits(ws: Workspace, base_sha: str, head: str) -> str:
    return git.out(
        ["-c", "core.commitGraph=false", "log", "--no-show-signature", "--no-mailmap",
         "--format=commit %h%n%B", f"{base_sha}..{head}"],
        ws.root,
    )  # fmt: skip


def prepare(ws: Workspace, task_id: str) -> Context:
    """Read the task, its head, the gate's facts and the diff; refuse what cannot be reviewed."""
    task = tasks.load(ws).resolve(task_id)
    facts = gatefacts.gather(ws, task)
    builder, family, problem = gate._builder(facts)
    if facts.head is None or builder is None:
        raise Refusal(
            f"{task.id} cannot be reviewed",
            [Stage("implementation", FAIL, problem)],
            hint=f"the builder commits signed work to lanes/{task.id} first",
        )
    text, paths = reviewdiff.read(ws.root, facts.base_sha, facts.head)
    if not paths:
        raise Refusal(
            f"{task.id} cannot be reviewed",
            [Stage("implementation", FAIL, f"the diff from {facts.base} is empty")],
        )
    _, _, raw = signers.load_base_config(ws)
    numbers = tuple(dict.fromkeys((*facts.design_adrs, *task.adrs)))
    return Context(
        task=task,
        facts=facts,
        head=facts.head,
        builder=builder,
        builder_family=None if builder.startswith("human:") else family,
        raw=raw,
        adr_numbers=numbers,
        task_text=_task_text(ws, task),
        commits=_commits(ws, facts.base_sha, facts.head),
        files=tuple(reviewdiff.split(text, paths)),
        settings=_settings(raw),
    )


def _counted_reviewer_family(ctx: Context) -> str | None:
    """The family of a complete correctness review of this diff that already counts."""
    for review in ctx.facts.reviews:
        family = str(ctx.facts.agents.get(review.agent, {}).get("family", review.family))
        if (
            review.role == "reviewer"
            and review.complete
            and review.diff_sha256 == ctx.facts.diff_sha256
            and family != ctx.builder_family
        ):
            return family
    return None


def assign(ws: Workspace, ctx: Context, roles: Sequence[str] | None) -> reviewassign.Assignment:
    wanted = list(roles) if roles else required_roles(ctx.facts)
    found, _ = waivers.collect(ws, ctx.task.id)
    waived = {
        role: w.human for w in found if w.kind == "diversity" for role in w.roles
    }  # fmt: skip
    return reviewassign.assign(
        ctx.facts.agents,
        roles=wanted,
        builder_family=ctx.builder_family,
        diversity=ctx.facts.diversity,
        task=ctx.task.id,
        waived=waived,
        reviewer_family=_counted_reviewer_family(ctx),
    )


def _refuse(ws: Workspace, ctx: Context, gaps: Sequence[reviewassign.Gap]) -> Refusal:
    stages = [Stage(f"review.{LABELS[g.role]}", FAIL, g.reason) for g in gaps]
    refusal = Refusal(
        f"{ctx.task.id} cannot be reviewed as the policy requires",
        stages,
        hint="; ".join(dict.fromkeys(g.fix for g in gaps)),
    )
    record_refusal(
        ws, "review.refused", actor(ws)[0], task=ctx.task.id, head=ctx.head,
        attempted=f"review {ctx.task.id}", refusal=refusal,
    )  # fmt: skip
    return refusal


# ---------------------------------------------------------------------------
# One review


def call_budget(raw: Mapping[str, Any], agent: str, settings: Mapping[str, int]) -> int:
    """Input tokens one call may carry: the review setting, within the agent's budget."""
    limit = settings["max_input_tokens"]
    limits = resolve(raw, agent=agent).budget.limits
    if limits.get("input_tokens"):
        limit = min(limit, int(limits["input_tokens"]))
    if limits.get("tokens"):
        limit = min(limit, int(limits["tokens"]) - settings["max_output_tokens"])
    return limit


def _room(ctx: Context, system: reviewprompt.SystemPrompt, limit: int) -> int:
    from lanectl.budgetmodel import estimate_input_tokens
    from lanectl.providers.base import Message, Request

    empty = reviewprompt.Material(ctx.task_text, ctx.commits, "", ())
    user = reviewprompt.user_message(
        task_id=ctx.task.id, head=ctx.head, base=ctx.facts.base, part=99, parts=99,
        material=empty, mark="0" * 24,
    )  # fmt: skip
    fixed = estimate_input_tokens(Request("", (Message("user", user),), system=system.text))
    return limit - fixed - 16


def _record(ctx: Context, pick: reviewassign.Pick, key: reviewcache.Key) -> dict[str, Any]:
    return {
        "version": records.VERSION,
        "task": ctx.task.id,
        "head": ctx.head,
        "agent": pick.agent,
        "role": pick.role,
        "family": pick.family,
        "model": key.model,
        "prompt_sha256": key.prompt_sha256,
        "diff_sha256": key.diff_sha256,
    }


def _coverage_finding(done: reviewcall.Done, total: int) -> dict[str, Any]:
    missing = len(done.skipped)
    why = done.problems or [f"{missing} file(s) did not fit the per-call budget"]
    return {
        "id": "F0",
        "severity": "major",
        "category": "coverage",
        "title": f"incomplete review: {missing} of {total} file(s) not reviewed",
        "body": "; ".join(why)[:3000],
    }


def _write(
    ws: Workspace, ctx: Context, pick: reviewassign.Pick, record: dict[str, Any], extra: str | None
) -> evidence.Verified | evidence.Ignored:
    summary = f"review {ctx.task.id} {LABELS[pick.role]} by {pick.agent}"
    with state.change(ws, pick.agent, pick.role, summary, task=ctx.task.id) as change:
        result = evidence.write_signed_record(ws, change, records.REVIEW, record, pick.agent)
        if extra is not None:
            ledger.record(
                change,
                "review.incomplete",
                task=ctx.task.id,
                head=ctx.head,
                result="error",
                reason=extra,
                data={
                    "path": result.path,
                    "files_skipped": list(record["coverage"]["files_skipped"]),
                },
            )
        elif record.get("reused_from"):
            ledger.record(
                change,
                "review.reused",
                task=ctx.task.id,
                head=ctx.head,
                reason="same diff, model and prompt as the review at "
                f"{record['reused_from']['head'][:12]}",
                data={"path": result.path, "reused_from": dict(record["reused_from"])},
            )
    return result


def _outcome(
    pick: reviewassign.Pick,
    ctx: Context,
    status: str,
    reason: str,
    result: evidence.Verified | evidence.Ignored | None = None,
    **kw: Any,
) -> ReviewOutcome:
    review = None
    if isinstance(result, evidence.Verified) and isinstance(result.record, records.Review):
        review = result.record
    elif isinstance(result, evidence.Ignored):
        status, reason = "error", f"recorded, but the gate would ignore it: {result.reason}"
    fields: dict[str, Any] = {}
    if review is not None:
        fields = {
            "verdict": review.verdict,
            "findings": len(review.findings),
            "files_reviewed": review.coverage.files_reviewed,
            "files_skipped": review.coverage.files_skipped,
            "record": review,
        }
    return ReviewOutcome(
        role=pick.role,
        agent=pick.agent,
        family=pick.family,
        model=kw.pop("model", pick.model),
        head=ctx.head,
        status=status,
        reason=reason,
        path=result.path if result is not None else None,
        note=pick.note,
        **{**fields, **kw},
    )


def review_one(
    ws: Workspace, gw: Any, ctx: Context, pick: reviewassign.Pick, report: Reporter
) -> ReviewOutcome:
    label = LABELS[pick.role]
    model = resolve(ctx.raw, agent=pick.agent).model
    system = reviewprompt.system_prompt(
        ws.root, ctx.facts.base, ctx.facts.base_sha, pick.role, ctx.adr_numbers
    )
    assert ctx.facts.diff_sha256 is not None
    key = reviewcache.Key(ctx.facts.diff_sha256, model, system.sha256)
    hit = reviewcache.find(ws, ctx.task.id, pick.agent, pick.role, key, ctx.head)
    if hit is not None and hit.head == ctx.head:
        verified = evidence.Verified(hit.path, hit.record, f"agent:{pick.agent}", hit.sha256)
        reason = f"already reviewed {ctx.head[:7]} (same diff, model and prompt): nothing sent"
        report(label, "current", f"{pick.agent}: {reason}")
        return _outcome(pick, ctx, "current", reason, verified, model=model)
    if hit is not None:
        old = hit.record
        record = _record(ctx, pick, key) | {
            "verdict": old.verdict,
            "coverage": {
                "files_reviewed": old.coverage.files_reviewed,
                "files_skipped": list(old.coverage.files_skipped),
            },
            "findings": [_finding_dict(f) for f in old.findings],
            "reused_from": {"head": old.head, "sha256": hit.sha256},
        }
        result = _write(ws, ctx, pick, record, None)
        reason = f"reused the review of {old.head[:7]} (same diff, model and prompt): no model call"
        report(label, "reused", f"{pick.agent}: {reason}")
        return _outcome(pick, ctx, "reused", reason, result, model=model, reused_from=old.head)
    limit = call_budget(ctx.raw, pick.agent, ctx.settings)
    room = _room(ctx, system, limit)
    files = ctx.files if room >= MIN_ROOM else ()
    plan = reviewdiff.plan(files, max(room, 1), ctx.settings["max_calls"])
    if not files:
        every = tuple(f.path for f in ctx.files)
        plan = reviewdiff.Plan((), every, every)
    job = reviewcall.Job(
        task_id=ctx.task.id, head=ctx.head, base=ctx.facts.base, role=pick.role,
        agent=pick.agent, model=model, system=system, task_text=ctx.task_text,
        commits=ctx.commits, plan=plan, max_tokens=ctx.settings["max_output_tokens"],
    )  # fmt: skip
    report(label, "reviewing", f"{pick.agent} ({pick.family}): {len(plan.parts)} call(s)")
    done = reviewcall.run(gw, job, lambda phase, message: report(label, phase, message))
    if not plan.parts and not done.problems:
        done.problems.append(f"the prompt alone leaves no room in the {limit}-token call budget")
    found = [f.as_record(f"F{i}") for i, f in enumerate(done.answer.findings, start=1)]
    complete = not done.skipped and not done.truncated
    verdict = done.answer.verdict
    extra = None
    if not complete:
        found.insert(0, _coverage_finding(done, len(plan.files)))
        verdict = "changes_requested" if verdict == "pass" else verdict
        extra = "; ".join(done.problems) or f"{len(done.skipped)} file(s) skipped"
    record = _record(ctx, pick, key) | {
        "verdict": verdict,
        "coverage": {
            "files_reviewed": len(done.covered),
            "files_skipped": list(done.skipped),
            **({"truncated": True} if done.truncated else {}),
        },
        "findings": found,
    }
    result = _write(ws, ctx, pick, record, extra)
    if complete:
        reason = f"{verdict}, {len(found)} finding(s), {len(done.covered)} file(s)"
        report(label, "recorded", f"{pick.agent}: {reason}")
        return _outcome(pick, ctx, "recorded", reason, result, model=model, calls=done.calls)
    reason = f"incomplete, not counted by the gate: {extra}"
    report(label, "incomplete", f"{pick.agent}: {reason}")
    return _outcome(pick, ctx, "incomplete", reason, result, model=model, calls=done.calls)


def _finding_dict(f: records.Finding) -> dict[str, Any]:
    item: dict[str, Any] = {"id": f.id, "severity": f.severity}
    for name in ("category", "path", "line", "title", "body", "evidence"):
        value = getattr(f, name)
        if value is not None:
            item[name] = value
    return item


# ---------------------------------------------------------------------------
# All of them


def _gateway(ws: Workspace, raw: Mapping[str, Any]) -> Any:
    """A gateway on the BASE branch's agents and budgets (never the work tree's)."""
    from lanectl.budgetstore import BudgetStore, store_path
    from lanectl.gateway import RESPONSES, Gateway, ledger_sink
    from lanectl.respcache import ResponseCache

    cache_cfg = raw.get("cache") if isinstance(raw.get("cache"), dict) else {}
    assert isinstance(cache_cfg, dict)
    cache = None
    if cache_cfg.get("responses", True) is not False:
        age = float(cache_cfg.get("max_age_days") or 30.0)
        cache = ResponseCache(ws.private_dir / RESPONSES, max_age_days=age)
    return Gateway(raw, BudgetStore(store_path(ws.private_dir)), cache, sink=ledger_sink(ws))


def run_reviews(
    ws: Workspace,
    task_id: str,
    roles: Sequence[str] | None = None,
    report: Reporter | None = None,
    *,
    post: bool = True,
) -> list[ReviewOutcome]:
    """Review the task's head in every required role (or ``roles``), in parallel.

    Raises :class:`~lanectl.refusal.Refusal` (exit 3, recorded) when the task
    has no signed work to review or a role cannot be assigned as the policy
    requires. Every other outcome, incomplete reviews and errors included, is
    in the returned list, in role order. ``report(role_label, phase, message)``
    is called from worker threads as the reviews go.
    """
    lock = threading.Lock()

    def say(label: str, phase: str, message: str) -> None:
        if report is not None:
            with lock:
                report(label, phase, message)

    for role in roles or ():
        if role not in records.REVIEW_ROLES:
            raise LaneError(
                f"--role must be one of {', '.join(records.REVIEW_ROLES)} (got '{role}')"
            )
    ctx = prepare(ws, task_id)
    assignment = assign(ws, ctx, roles)
    if assignment.gaps:
        raise _refuse(ws, ctx, assignment.gaps)
    for pick in assignment.picks:
        note = f" — {pick.note}" if pick.note else ""
        say(LABELS[pick.role], "assigned", f"{pick.agent} ({pick.family}, {pick.model}){note}")
    gw = _gateway(ws, ctx.raw)
    try:
        with ThreadPoolExecutor(max_workers=len(assignment.picks) or 1) as pool:
            futures = [
                (pick, pool.submit(review_one, ws, gw, ctx, pick, say)) for pick in assignment.picks
            ]
            outcomes: list[ReviewOutcome] = []
            for pick, future in futures:
                try:
                    outcomes.append(future.result())
                except LaneError as exc:
                    say(LABELS[pick.role], "error", f"{pick.agent}: {exc}")
                    failed = ReviewOutcome(
                        pick.role, pick.agent, pick.family, pick.model, ctx.head, "error",
                        str(exc), note=pick.note,
                    )  # fmt: skip
                    outcomes.append(failed)
    finally:
        gw.close()
    if post:
        from lanectl import reviewpost

        outcomes = reviewpost.publish(ws, ctx.raw, ctx.task, ctx.facts.base_sha, outcomes, say)
    return outcomes
