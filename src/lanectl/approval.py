"""``lanectl approve``: a human's signed approval commit bound to the reviewed head.

The approval (SPEC §3.6, ADR 0012) is an empty commit A on ``lanes/<task>``:
parent H (the reviewed head), tree(A) = tree(H), signed with the human's SSH
key, with the trailers ``Lane-Task``, ``Lane-Approves: <H>``, ``Lane-Tier``
and ``Lane-Gate`` (the digest of the gate evaluation the human saw). Only a
key that the BASE branch's allowed_signers lists for a human of the base
branch's config may make one; the gate then verifies it independently.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from lanectl import git, gitverify, ledger, signers, state, taskops
from lanectl.errors import LaneError
from lanectl.gate import APPROVAL_TRAILER, FAIL, GateResult
from lanectl.humankeys import Approver, identify, signed_commit, signing_key
from lanectl.refusal import Refusal, ledger_writable, policy_allows, record_refusal
from lanectl.tasks import Task
from lanectl.workspace import Workspace, actor

CLOSED_STATES = ("merged", "cancelled")


# ---------------------------------------------------------------------------
# Checking an approval commit (shared by merge and the history audit)

_STATUS = {
    "N": "it is not signed (a rebased copy loses its signature)",
    "U": "signed by a key not in the allowed_signers in force",
    "B": "bad signature, or a revoked key",
    "R": "signed by a revoked key",
}


def check_commit(
    a: gitverify.Commit,
    *,
    task_id: str | None,
    head: str,
    head_tree: str | None,
    human_of: Mapping[str, str],
) -> str | None:
    """Why ``a`` is not a valid approval of ``head`` (for ``task_id``), or None."""
    if a.status != "G" or not a.principal:
        return _STATUS.get(a.status, f"signature status {a.status}")
    if signers.is_agent(a.principal) or a.principal not in human_of:
        return f"signed by {a.principal}, who is not a human in the config in force"
    if a.parents != (head,):
        return "its parent is not the approved head"
    if head_tree is None or a.tree != head_tree:
        return "its tree differs from the head's (an approval changes nothing)"
    if task_id is not None and a.trailer("Lane-Task") != task_id:
        return f"it names task {a.trailer('Lane-Task')}, not {task_id}"
    if a.trailer(APPROVAL_TRAILER) != head:
        return f"it approves {str(a.trailer(APPROVAL_TRAILER))[:7]}, not the head {head[:7]}"
    return None


# ---------------------------------------------------------------------------
# lanectl approve ID


@dataclass(frozen=True)
class DiffStat:
    files: tuple[tuple[str, int, int], ...]  # (path, added, deleted); binary counts 0

    @property
    def added(self) -> int:
        return sum(a for _, a, _ in self.files)

    @property
    def deleted(self) -> int:
        return sum(d for _, _, d in self.files)

    def __str__(self) -> str:
        names = ", ".join(p for p, _, _ in self.files[:3])
        more = f", +{len(self.files) - 3} more" if len(self.files) > 3 else ""
        count = f"{len(self.files)} file{'s' if len(self.files) != 1 else ''}"
        return f"+{self.added} −{self.deleted} in {count} ({names}{more})"


def diff_stat(repo: Path, base: str, head: str) -> DiffStat:
    out = git.run(
        [
            "-c",
            "core.commitGraph=false",
            "diff",
            "--numstat",
            "-z",
            "--no-renames",
            "--no-ext-diff",
            "--no-textconv",
            f"{base}...{head}",
        ],
        repo,
    ).stdout.decode("utf-8", "surrogateescape")
    files: list[tuple[str, int, int]] = []
    for item in out.split("\0"):
        parts = item.split("\t", 2)
        if len(parts) == 3:
            added, deleted, path = parts
            files.append((path, _count(added), _count(deleted)))
    return DiffStat(tuple(files))


def _count(text: str) -> int:
    return int(text) if text.isdigit() else 0  # "-" for binary files


@dataclass(frozen=True)
class Preview:
    """What the human sees before typing the task id."""

    task: Task
    result: GateResult
    tip: str  # the branch tip now (H, or an approval commit that does not count)
    stat: DiffStat
    approver: Approver

    @property
    def head(self) -> str:
        assert self.result.head is not None
        return self.result.head

    def lines(self) -> list[str]:
        tier = self.result.tier
        reviews = [
            f"{s.name.split('.')[1]} {s.reason}"
            for s in self.result.stages
            if s.name.startswith("review.") and s.status != "skip"
        ]
        out = [
            f'You are approving {self.task.id} "{self.task.title}"',
            f"  head {self.head[:7]}  tier {tier.effective}  {self.stat}",
            f"  reviews: {'; '.join(reviews) or 'none'}",
            f"  signing as {self.approver.human} ({self.approver.principal}) with "
            f"{self.approver.key.fingerprint}",
        ]
        if self.tip != self.head:
            out.append(f"  replaces {self.tip[:7]}, an approval that does not count")
        return out


@dataclass(frozen=True)
class Approved:
    task_id: str
    approval: str
    head: str
    tier: str
    approver: str


def prepare(ws: Workspace, task: Task, key: Path | None) -> Preview:
    """Identify the approver and judge the task; refuses (recorded) when it is not eligible."""
    if task.state in CLOSED_STATES:
        raise LaneError(f"{task.id} is {task.state}; there is nothing to approve")
    signing = signing_key(ws, key)
    trust = signers.load_trust(ws)
    _, _, raw = signers.load_base_config(ws)
    try:
        approver = identify(trust, raw, signing)
        policy_allows(ws, approver.human, "approve", task.id)
    except Refusal as stranger:
        record_refusal(
            ws,
            "approval.refused",
            actor(ws)[0],
            task=task.id,
            head=None,
            attempted=f"approve {task.id}",
            refusal=stranger,
        )
        raise
    from lanectl import gatefacts

    result = gatefacts.judge(ws, task)
    failing = [s for s in result.stages if s.status == FAIL and s.name != "approval"]
    if failing or result.head is None:
        refusal = Refusal(f"{task.id} cannot be approved", failing)
        record_refusal(
            ws,
            "approval.refused",
            approver.human,
            task=task.id,
            head=result.head,
            attempted=f"approve {task.id}",
            refusal=refusal,
        )
        raise refusal
    tip = git.rev_parse(f"refs/heads/{gatefacts.task_branch(task.id)}", ws.root)
    assert tip is not None
    return Preview(task, result, tip, diff_stat(ws.root, trust.commit, result.head), approver)


def one_line(text: str) -> str:
    """A title as a subject line: nothing it holds can become a trailer."""
    return " ".join(text.split())


def message(preview: Preview) -> str:
    task, result = preview.task, preview.result
    return (
        f"Approve {task.id}: {one_line(task.title)}\n\n"
        f"Lane-Task: {task.id}\n{APPROVAL_TRAILER}: {preview.head}\n"
        f"Lane-Tier: {result.tier.effective}\nLane-Gate: {result.digest()}\n"
    )


def commit(ws: Workspace, preview: Preview) -> Approved:
    """Make the signed approval, move the branch (compare-and-swap), and re-judge."""
    from lanectl import gatefacts

    task, head, approver = preview.task, preview.head, preview.approver
    ledger_writable(ws)
    tree = git.out(["rev-parse", f"{head}^{{tree}}"], ws.root)
    sha = signed_commit(ws.root, tree, [head], message(preview), approver)
    ref = f"refs/heads/{gatefacts.task_branch(task.id)}"
    if git.run(["update-ref", ref, sha, preview.tip], ws.root, check=False).returncode != 0:
        raise LaneError(
            f"lanes/{task.id} moved while you were approving; nothing was approved",
            hint=f"look at the new head, then run `lanectl approve {task.id}` again",
        )
    after = gatefacts.judge(ws, task)
    if not after.approved or after.approval != sha:
        git.run(["update-ref", ref, preview.tip, sha], ws.root, check=False)
        undone = Refusal(
            f"the approval {sha[:7]} does not verify; lanes/{task.id} was put back",
            [s for s in after.stages if s.status == FAIL],
        )
        record_refusal(
            ws,
            "approval.refused",
            approver.human,
            task=task.id,
            head=head,
            attempted=f"approve {task.id}",
            refusal=undone,
        )
        raise undone
    tier = after.tier.effective
    with state.change(ws, approver.human, "human", f"approve {task.id}", task=task.id) as change:
        ledger.record(
            change,
            "approval.recorded",
            task=task.id,
            head=head,
            data={
                "approval": sha,
                "tier": tier,
                "gate_sha256": preview.result.digest(),
                "principal": approver.principal,
                "fingerprint": approver.key.fingerprint,
                "replaces": preview.tip if preview.tip != head else None,
            },
        )
        if task.state != "approved":
            taskops.set_state(ws, change, task, "approved")
    return Approved(task.id, sha, head, tier, approver.human)
