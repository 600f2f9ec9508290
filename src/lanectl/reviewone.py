"""One role's review of one head: look it up, carry it over, or have the model do it.

:func:`lookup` builds the role's system prompt and asks the review cache
(:mod:`lanectl.reviewcache`); :func:`reuse` turns a hit at another head into a
new signed record citing it; :func:`review` runs the model over the parts of
the diff (:mod:`lanectl.reviewcall`) and records what it found, complete or
not. Every record is written with :func:`lanectl.evidence.write_signed_record`
(signed with the reviewer agent's key, ``review.recorded``), plus
``review.incomplete`` or ``review.reused`` when that is what happened.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lanectl import (
    agentloop,
    evidence,
    gate,
    ledger,
    records,
    reviewassign,
    reviewcache,
    reviewcall,
    reviewdiff,
    reviewprompt,
    state,
    tasks,
)
from lanectl.routing import resolve
from lanectl.toolbox import ToolSettings
from lanectl.workspace import Workspace

if TYPE_CHECKING:
    from lanectl.gateway import Gateway
    from lanectl.toolbox import Toolbox

Say = Callable[[str, str, str], None]  # (role label, phase, message)
LABELS = reviewassign.LABELS
DEFAULTS = {"max_input_tokens": 24000, "max_output_tokens": 4096, "max_calls": 12, "max_steps": 8}
MIN_ROOM = 200  # tokens of diff a call must have room for, or nothing fits
TOOL_SHARE = 4  # with tools, a quarter of each call's budget is kept for what they return


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
    tool_calls: int = 0
    reused_from: str | None = None  # the head whose review was carried over
    note: str = ""  # a rule the assignment bent (a waiver, diversity warn)
    record: records.Review | None = None
    forge: dict[str, Any] | None = None  # where it went on a remote forge
    forge_error: str | None = None
    task: str = ""

    @property
    def label(self) -> str:
        return LABELS.get(self.role, self.role)

    @property
    def counts(self) -> bool:
        """A complete review record exists for the head (the gate judges its verdict)."""
        return self.status in ("recorded", "reused", "current")

    def to_json(self) -> dict[str, Any]:
        return {
            "task": self.task,
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
            "tool_calls": self.tool_calls,
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


@dataclass(frozen=True)
class Lookup:
    pick: reviewassign.Pick
    model: str
    system: reviewprompt.SystemPrompt
    key: reviewcache.Key
    hit: reviewcache.Hit | None


def settings_of(raw: Mapping[str, Any]) -> dict[str, int]:
    section = raw.get("review") if isinstance(raw.get("review"), dict) else {}
    assert isinstance(section, dict)
    out = dict(DEFAULTS)
    for key in DEFAULTS:
        value = section.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            out[key] = value
    return out


def lookup(ws: Workspace, ctx: Context, pick: reviewassign.Pick) -> Lookup:
    """The role's prompt (with its tools) and the reusable review of the same key, if any."""
    commands = ToolSettings.from_config(ctx.raw).commands.describe()
    system = reviewprompt.system_prompt(
        ws.root,
        ctx.facts.base,
        ctx.facts.base_sha,
        pick.role,
        ctx.adr_numbers,
        reviewprompt.tools_text(commands),
    )
    model = resolve(ctx.raw, agent=pick.agent).model
    assert ctx.facts.diff_sha256 is not None
    key = reviewcache.Key(ctx.facts.diff_sha256, model, system.sha256)
    hit = reviewcache.find(ws, ctx.task.id, pick.agent, pick.role, key, ctx.head)
    return Lookup(pick, model, system, key, hit)


# ---------------------------------------------------------------------------
# Records


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


def _finding_dict(f: records.Finding) -> dict[str, Any]:
    item: dict[str, Any] = {"id": f.id, "severity": f.severity}
    for name in ("category", "path", "line", "title", "body", "evidence"):
        value = getattr(f, name)
        if value is not None:
            item[name] = value
    return item


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


def outcome(
    found: Lookup,
    ctx: Context,
    status: str,
    reason: str,
    result: evidence.Verified | evidence.Ignored | None = None,
    **kw: Any,
) -> ReviewOutcome:
    pick = found.pick
    extra: dict[str, Any] = {}
    if isinstance(result, evidence.Verified) and isinstance(result.record, records.Review):
        review = result.record
        extra = {
            "verdict": review.verdict,
            "findings": len(review.findings),
            "files_reviewed": review.coverage.files_reviewed,
            "files_skipped": review.coverage.files_skipped,
            "record": review,
        }
    elif isinstance(result, evidence.Ignored):
        status, reason = "error", f"recorded, but the gate would ignore it: {result.reason}"
    return ReviewOutcome(
        role=pick.role,
        agent=pick.agent,
        family=pick.family,
        model=found.model,
        head=ctx.head,
        status=status,
        reason=reason,
        path=result.path if result is not None else None,
        note=pick.note,
        task=ctx.task.id,
        **{**extra, **kw},
    )


# ---------------------------------------------------------------------------
# The three ways a review comes about


def current(found: Lookup, ctx: Context, say: Say) -> ReviewOutcome:
    """The agent already reviewed this head with the same key: nothing to do."""
    assert found.hit is not None
    hit, pick = found.hit, found.pick
    verified = evidence.Verified(hit.path, hit.record, f"agent:{pick.agent}", hit.sha256)
    reason = f"already reviewed {ctx.head[:7]} (same diff, model and prompt): nothing sent"
    say(LABELS[pick.role], "current", f"{pick.agent}: {reason}")
    return outcome(found, ctx, "current", reason, verified)


def reuse(ws: Workspace, found: Lookup, ctx: Context, say: Say) -> ReviewOutcome:
    """The same diff was reviewed at another head (a rebase): a new record that cites it."""
    assert found.hit is not None
    old, pick = found.hit.record, found.pick
    record = _record(ctx, pick, found.key) | {
        "verdict": old.verdict,
        "coverage": {
            "files_reviewed": old.coverage.files_reviewed,
            "files_skipped": list(old.coverage.files_skipped),
        },
        "findings": [_finding_dict(f) for f in old.findings],
        "reused_from": {"head": old.head, "sha256": found.hit.sha256},
    }
    result = _write(ws, ctx, pick, record, None)
    reason = f"reused the review of {old.head[:7]} (same diff, model and prompt): no model call"
    say(LABELS[pick.role], "reused", f"{pick.agent}: {reason}")
    return outcome(found, ctx, "reused", reason, result, reused_from=old.head)


def call_budget(raw: Mapping[str, Any], agent: str, settings: Mapping[str, int]) -> int:
    """Input tokens one call may carry: the review setting, within the agent's budget."""
    limit = settings["max_input_tokens"]
    limits = resolve(raw, agent=agent).budget.limits
    if limits.get("input_tokens"):
        limit = min(limit, int(limits["input_tokens"]))
    if limits.get("tokens"):
        limit = min(limit, int(limits["tokens"]) - settings["max_output_tokens"])
    return limit


def _room(ctx: Context, found: Lookup, limit: int, tools: bool) -> int:
    from lanectl.budgetmodel import estimate_input_tokens
    from lanectl.providers.base import Message, Request

    empty = reviewprompt.Material(ctx.task_text, ctx.commits, "", ())
    user = reviewprompt.user_message(
        task_id=ctx.task.id, head=ctx.head, base=ctx.facts.base, part=99, parts=99,
        material=empty, mark="0" * 24,
    )  # fmt: skip
    request = Request("", (Message("user", user),), system=found.system.text)
    fixed = estimate_input_tokens(request) + 16
    return limit - fixed - (limit // TOOL_SHARE if tools else 0)


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


def review(
    ws: Workspace,
    gw: Gateway,
    ctx: Context,
    found: Lookup,
    toolbox: Toolbox | None,
    say: Say,
) -> ReviewOutcome:
    """The model reviews every part of the diff that fits; the record says what it covered."""
    pick = found.pick
    label = LABELS[pick.role]
    limit = call_budget(ctx.raw, pick.agent, ctx.settings)
    room = _room(ctx, found, limit, toolbox is not None)
    every = tuple(f.path for f in ctx.files)
    if room >= MIN_ROOM:
        plan = reviewdiff.plan(ctx.files, room, ctx.settings["max_calls"])
    else:
        plan = reviewdiff.Plan((), every, every)
    steps = ctx.settings["max_steps"]
    job = reviewcall.Job(
        task_id=ctx.task.id, head=ctx.head, base=ctx.facts.base, role=pick.role,
        agent=pick.agent, model=found.model, system=found.system, task_text=ctx.task_text,
        commits=ctx.commits, plan=plan, toolbox=toolbox,
        limits=agentloop.Limits(max_steps=steps, max_tokens=limit * steps,
                                reply_tokens=ctx.settings["max_output_tokens"]),
    )  # fmt: skip
    done = reviewcall.run(gw, job, lambda phase, message: say(label, phase, message))
    if not plan.parts:
        done.problems.append(f"the prompt alone leaves no room in the {limit}-token call budget")
    found_items = [f.as_record(f"F{i}") for i, f in enumerate(done.answer.findings, start=1)]
    complete = not done.skipped and not done.truncated
    verdict = done.answer.verdict
    extra = None
    if not complete:
        found_items.insert(0, _coverage_finding(done, len(plan.files)))
        verdict = "changes_requested" if verdict == "pass" else verdict
        extra = "; ".join(done.problems) or f"{len(done.skipped)} file(s) skipped"
    record = _record(ctx, pick, found.key) | {
        "verdict": verdict,
        "coverage": {
            "files_reviewed": len(done.covered),
            "files_skipped": list(done.skipped),
            **({"truncated": True} if done.truncated else {}),
        },
        "findings": found_items,
    }
    result = _write(ws, ctx, pick, record, extra)
    counts = {"calls": done.calls, "tool_calls": done.tool_calls}
    if complete:
        reason = f"{verdict}, {len(found_items)} finding(s), {len(done.covered)} file(s)"
        say(label, "recorded", f"{pick.agent}: {reason}")
        return outcome(found, ctx, "recorded", reason, result, **counts)
    reason = f"incomplete, not counted by the gate: {extra}"
    say(label, "incomplete", f"{pick.agent}: {reason}")
    return outcome(found, ctx, "incomplete", reason, result, **counts)
