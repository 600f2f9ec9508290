"""What lanectl writes on a forge: review bodies, sticky summaries, statuses, PR text.

Pure text, no I/O. Everything a model or a task author wrote is untrusted:
it cannot forge lanectl's hidden markers (``<!-- lanectl:… -->``, used to
find lanectl's own comments again) and cannot @-mention people.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from lanectl.forge.base import InlineComment, ReviewPost
from lanectl.gate import FAIL, GateResult
from lanectl.records import Finding, Review

MAX_BODY = 60_000  # GitHub refuses bodies over 65,536 characters
MAX_STATUS = 140  # GitHub's limit for a commit status description
ROLE_LABELS = {"reviewer": "correctness", "security": "security", "designer": "design"}
_MENTION = re.compile(r"(?<![\w`])@(?=[A-Za-z0-9])")


def marker(kind: str, key: str) -> str:
    """The hidden first line that identifies a comment lanectl owns."""
    return f"<!-- lanectl:{kind}:{key} -->"


def summary_marker(role: str) -> str:
    return marker("summary", role)


def review_marker(key: str) -> str:
    return marker("review", key)


def untrusted(text: str) -> str:
    """Text from a model or a task file, safe to show: no markers, no @-mentions."""
    text = text.replace("<!--", "&lt;!--")
    return _MENTION.sub("@\u200b", text)


def clip(text: str, limit: int = MAX_BODY, note: str = "") -> str:
    if len(text) <= limit:
        return text
    tail = f"\n\n… (truncated{note})"
    return text[: limit - len(tail)] + tail


def one_line(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ---------------------------------------------------------------------------
# Reviews


def _finding_text(f: Finding) -> str:
    head = f"**{f.severity}**" + (f" · {untrusted(f.category)}" if f.category else "")
    parts = [f"{head} — {untrusted(one_line(f.title, 300))}"]
    if f.body:
        parts.append(untrusted(f.body))
    if f.evidence:
        parts.append(f"evidence: {untrusted(f.evidence)}")
    return "\n\n".join(parts)


def review_key(review: Review) -> str:
    return f"{review.role}:{review.agent}:{review.head}"


def review_post(review: Review) -> ReviewPost:
    """A review record as a forge review: findings with a path and line become comments."""
    comments = tuple(
        InlineComment(path=f.path, line=f.line, body=_finding_text(f))
        for f in review.findings
        if f.path and f.line
    )
    general = [f for f in review.findings if not (f.path and f.line)]
    label = ROLE_LABELS.get(review.role, review.role)
    lines = [
        review_marker(review_key(review)),
        f"**lanectl · {label} review** by `{review.agent}` ({review.family}, "
        f"{untrusted(review.model)}) of `{review.head[:12]}`: **{review.verdict}**, "
        f"{len(review.findings)} finding(s)",
        "",
        "_An agent's review is a comment: it neither approves nor blocks here. Merging needs "
        "the lanectl gate and a signed human approval (`lanectl merge`)._",
    ]
    if not review.complete:
        skipped = ", ".join(review.coverage.files_skipped[:10]) or "truncated input"
        lines += ["", f"⚠ Incomplete review (not counted by the gate): {untrusted(skipped)}"]
    if general:
        lines += ["", "**Findings**", ""]
        lines += [_bullet(_finding_text(f)) for f in general]
    return ReviewPost(
        key=review_key(review), head=review.head, body="\n".join(lines), comments=comments
    )


def _bullet(text: str) -> str:
    return "- " + text.replace("\n", "\n  ")


def with_moved(body: str, moved: Iterable[InlineComment]) -> str:
    """The review body with the comments that had no line in the diff."""
    items = [_bullet(f"`{c.where}` (not a line of this diff): {c.body}") for c in moved]
    if items:
        body += "\n\n**Comments outside the diff**\n\n" + "\n".join(items)
    return clip(body, note="; the full review is lanectl's signed record")


def summary_body(role: str, markdown: str) -> str:
    return clip(f"{summary_marker(role)}\n{untrusted(markdown)}")


# ---------------------------------------------------------------------------
# The gate as a commit status


def gate_status(result: GateResult) -> tuple[str, str, str] | None:
    """(sha, state, description) of ``lanectl/gate`` for the branch tip; None without one."""
    sha = result.approval or result.head
    if sha is None:
        return None
    if result.approved:
        reason = result.stage("approval").reason
        return sha, "success", one_line(f"gate holds; {reason}", MAX_STATUS)
    if result.eligible:
        text = "eligible; waiting for a signed human approval (lanectl approve)"
        return sha, "pending", one_line(text, MAX_STATUS)
    failing = [s for s in result.stages if s.status == FAIL]
    first = failing[0]
    more = f" (+{len(failing) - 1} more)" if len(failing) > 1 else ""
    return sha, "failure", one_line(f"✗ {first.name}: {first.reason}{more}", MAX_STATUS)


# ---------------------------------------------------------------------------
# The pull request of a task


def pr_title(task_id: str, title: str) -> str:
    return one_line(f"{task_id}: {title}", 250)


def pr_body(task_id: str, spec_path: str, state_branch: str, spec: str) -> str:
    """The pull request's description: the task's spec, and how it lands."""
    return clip(
        f"{marker('task', task_id)}\n"
        f"Task **{task_id}** — spec: `{spec_path}` on the `{state_branch}` branch.\n\n"
        f"{untrusted(spec.strip())}\n\n"
        "---\n_Opened by lanectl. Reviews by agents are comments. This merges only through "
        f"`lanectl merge {task_id}`: the gate is re-evaluated and the signed human approval "
        "commit stays in history (a true merge, never a squash or rebase)._"
    )
