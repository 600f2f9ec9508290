"""Reviews on a remote forge: COMMENT reviews, one sticky summary per role, the gate status.

Nothing here changes a verdict: the signed records are the reviews. On the
``local`` forge nothing is done at all. On ``github`` the task's pull
request is opened or refreshed from its spec, each review record is posted
as a ``COMMENT`` review whose findings with a line of the diff become inline
comments (others go to the body: :mod:`lanectl.forge.diffmap`), the role's
sticky summary is edited in place, and ``lanectl/gate`` is set from a fresh
evaluation. A forge failure is reported with the outcome, never raised.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from lanectl import gatefacts
from lanectl.forge import flow
from lanectl.forge.base import ForgeError

if TYPE_CHECKING:
    from lanectl.review import ReviewOutcome
    from lanectl.tasks import Task
    from lanectl.workspace import Workspace

Say = Callable[[str, str, str], None]
STATUS_WORDS = {
    "recorded": "complete",
    "reused": "complete (carried over: same diff)",
    "current": "complete",
    "incomplete": "INCOMPLETE — not counted by the gate",
    "error": "failed",
}


def summary(outcome: ReviewOutcome, state_branch: str) -> str:
    """The role's sticky summary (compose makes it safe to show)."""
    head = outcome.head[:12]
    lines = [
        f"**lanectl · {outcome.label} review** of `{head}` by `{outcome.agent}` "
        f"({outcome.family}, {outcome.model}): **{outcome.verdict or 'none'}**, "
        f"{outcome.findings} finding(s) — {STATUS_WORDS.get(outcome.status, outcome.status)}",
        "",
        f"- files reviewed: {outcome.files_reviewed}; skipped: "
        + (", ".join(f"`{p}`" for p in outcome.files_skipped[:10]) or "none"),
    ]
    if outcome.reused_from:
        lines.append(f"- carried over from the review of `{outcome.reused_from[:12]}`")
    if outcome.note:
        lines.append(f"- {outcome.note}")
    if outcome.path:
        lines.append(f"- signed record: `{outcome.path}` on the `{state_branch}` branch")
    lines += [
        "",
        "_Agents' reviews are comments: they never approve. Merging needs the lanectl gate and "
        "a signed human approval (`lanectl merge`)._",
    ]
    return "\n".join(lines)


def publish(
    ws: Workspace,
    raw: Mapping[str, Any],
    task: Task,
    base_sha: str,
    outcomes: Sequence[ReviewOutcome],
    say: Say,
) -> list[ReviewOutcome]:
    """Post the outcomes on a remote forge; the outcomes with where they went (or why not)."""
    if flow.is_local(raw):
        return list(outcomes)
    from lanectl.forge.diffmap import for_range
    from lanectl.forge.registry import open_forge

    try:
        forge = open_forge(ws, raw)
        pull = flow.open_pull(ws, forge, task, ws.settings.base_branch)
    except ForgeError as exc:
        say("forge", "error", f"reviews not posted: {exc}")
        return [replace(o, forge_error=str(exc)) for o in outcomes]
    say("forge", "pull", f"{forge.kind} pull request {pull.label}" + (
        " (opened)" if pull.created else ""))  # fmt: skip
    done: list[ReviewOutcome] = []
    hunks: dict[str, Any] = {}
    for outcome in outcomes:
        if outcome.record is None:
            done.append(outcome)
            continue
        try:
            if outcome.head not in hunks:
                hunks[outcome.head] = for_range(ws.root, base_sha, outcome.head)
            posted = forge.post_review(pull, outcome.record, hunks[outcome.head])
            forge.upsert_summary(pull, outcome.role, summary(outcome, ws.settings.state_branch))
        except ForgeError as exc:
            say(outcome.label, "error", f"not posted on {pull.label}: {exc}")
            done.append(replace(outcome, forge_error=str(exc)))
            continue
        where = "already there" if posted.already else (
            f"{len(posted.inline)} inline comment(s), {len(posted.moved)} in the body")  # fmt: skip
        say(outcome.label, "posted", f"COMMENT review on {pull.label}: {where}")
        done.append(
            replace(outcome, forge={"pull": pull.number, "url": pull.url, **posted.to_json()})
        )
    published = flow.publish_gate(ws, gatefacts.judge(ws, task))
    if published is not None:
        if published.error:
            say("gate", "error", f"the verdict stands, but {published.error}")
        else:
            say(
                "gate",
                "status",
                f"Set {published.forge} status lanectl/gate: {published.state} on "
                f"{published.sha[:7]}",
            )
    return done
