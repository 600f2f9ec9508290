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
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from lanectl import (
    gate,
    gatefacts,
    git,
    records,
    reviewassign,
    reviewdiff,
    reviewone,
    reviewtools,
    signers,
    tasks,
    waivers,
    yamlio,
)
from lanectl.errors import LaneError
from lanectl.gate import FAIL, Stage
from lanectl.refusal import Refusal, record_refusal
from lanectl.reviewone import Context, ReviewOutcome
from lanectl.risk import rank
from lanectl.workspace import Workspace, actor

if TYPE_CHECKING:
    from lanectl.gateway import Gateway

__all__ = ["Context", "Reporter", "ReviewOutcome", "prepare", "required_roles", "run_reviews"]

Reporter = Callable[[str, str, str], None]  # (role label, phase, message); may come from threads
LABELS = reviewassign.LABELS


def required_roles(facts: gate.Facts) -> list[str]:
    """The review roles the gate asks for at this tier (SPEC §5.3)."""
    tier = facts.risk.effective
    roles = ["reviewer"]
    if rank(tier) >= rank("medium"):
        roles.append("security")
    if tier == "high" or (tier == "medium" and facts.design_adrs):
        roles.append("designer")
    return roles


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
    return Context(
        task=task,
        facts=facts,
        head=facts.head,
        builder=builder,
        builder_family=None if builder.startswith("human:") else family,
        raw=raw,
        adr_numbers=tuple(dict.fromkeys((*facts.design_adrs, *task.adrs))),
        task_text=_task_text(ws, task),
        commits=_commits(ws, facts.base_sha, facts.head),
        files=tuple(reviewdiff.split(text, paths)),
        settings=reviewone.settings_of(raw),
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
    waived = {role: w.human for w in found if w.kind == "diversity" for role in w.roles}
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


def _run_models(
    ws: Workspace, ctx: Context, pending: list[reviewone.Lookup], say: Reporter
) -> dict[str, ReviewOutcome]:
    """The reviews that need a model, in parallel, each with its read-only tools."""
    from lanectl.gateway import Gateway

    done: dict[str, ReviewOutcome] = {}
    if not pending:
        return done
    kits: dict[str, reviewtools.Kit] = {}
    gw: Gateway = Gateway.open(ws, raw=ctx.raw)
    try:
        for found in pending:  # worktrees one at a time: git locks its worktree list
            pick = found.pick
            kits[pick.role] = reviewtools.prepare(
                ws, ctx.raw, ctx.task.id, ctx.head, pick.agent, pick.role
            )
        with ThreadPoolExecutor(max_workers=len(pending)) as pool:
            futures = [
                (found, pool.submit(
                    reviewone.review, ws, gw, ctx, found, kits[found.pick.role].box, say))
                for found in pending
            ]  # fmt: skip
            for found, future in futures:
                pick = found.pick
                try:
                    done[pick.role] = future.result()
                except LaneError as exc:
                    say(LABELS[pick.role], "error", f"{pick.agent}: {exc}")
                    done[pick.role] = reviewone.outcome(found, ctx, "error", str(exc))
    finally:
        gw.close()
        for role in kits:
            reviewtools.remove(ws, ctx.task.id, role)
    return done


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
    is called (from worker threads too, one call at a time) as the reviews go.
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
    outcomes: dict[str, ReviewOutcome] = {}
    pending: list[reviewone.Lookup] = []
    for pick in assignment.picks:
        note = f" — {pick.note}" if pick.note else ""
        say(LABELS[pick.role], "assigned", f"{pick.agent} ({pick.family}, {pick.model}){note}")
        found = reviewone.lookup(ws, ctx, pick)
        if found.hit is not None and found.hit.head == ctx.head:
            outcomes[pick.role] = reviewone.current(found, ctx, say)
        elif found.hit is not None:
            outcomes[pick.role] = reviewone.reuse(ws, found, ctx, say)
        else:
            pending.append(found)
    outcomes |= _run_models(ws, ctx, pending, say)
    ordered = [outcomes[p.role] for p in assignment.picks]
    if post:
        from lanectl import reviewpost

        ordered = reviewpost.publish(ws, ctx.raw, ctx.task, ctx.facts.base_sha, ordered, say)
    return ordered
