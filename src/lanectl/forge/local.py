"""The ``local`` forge (the default, offline): the task branch is the pull request.

Reviews are the signed records in ``.lanes/reviews/`` already, so posting one
only reports where its comments would go; summaries and statuses have no
place to live but the ledger, so they are recorded there; and a merge is
the true merge commit ``lanectl merge`` makes itself with plumbing (ADR 0013).
"""

from __future__ import annotations

import hashlib
from typing import Any

from lanectl import git, ledger, state
from lanectl.forge.base import (
    MERGE_METHOD,
    STATUS_CONTEXT,
    Advice,
    ForgeError,
    Posted,
    ProtectionReport,
    PullRef,
    ReviewPost,
    as_post,
    check_state,
    refuse_method,
)
from lanectl.forge.diffmap import DiffMap
from lanectl.forge.registry import ForgeSpec
from lanectl.records import Review
from lanectl.workspace import Workspace

SYSTEM = ("lanectl", "lanectl")  # the system actor of SPEC §1


def _task_of(branch: str) -> str | None:
    return branch[len("lanes/") :] if branch.startswith("lanes/") else None


class LocalForge:
    kind = "local"

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws

    def open_or_update_pr(
        self, task: str, head_branch: str, base: str, title: str, body: str
    ) -> PullRef:
        tip = git.rev_parse(f"refs/heads/{head_branch}", self.ws.root)
        if tip is None:
            raise ForgeError(
                f"there is no branch {head_branch} yet",
                kind="not_found",
                hint="build the task first",
            )
        return PullRef(self.kind, head_branch, base, head_sha=tip)

    def post_review(self, pr: PullRef, review: Review | ReviewPost, diff_hunks: DiffMap) -> Posted:
        inline, moved = diff_hunks.place(as_post(review).comments)
        return Posted(None, inline, moved)

    def upsert_summary(self, pr: PullRef, role: str, markdown: str) -> None:
        digest = hashlib.sha256(markdown.encode("utf-8")).hexdigest()
        self._record(
            "forge.summary",
            f"summary {role} on {pr.head}",
            _task_of(pr.head),
            None,
            {"role": role, "pull": pr.head, "markdown_sha256": digest, "chars": len(markdown)},
        )

    def set_status(
        self, sha: str, state: str, description: str, target_url: str | None = None
    ) -> None:
        check_state(state)
        data: dict[str, Any] = {
            "context": STATUS_CONTEXT,
            "state": state,
            "description": description,
        }
        if target_url:
            data["target_url"] = target_url
        self._record("forge.status", f"status {state} on {sha[:12]}", None, sha, data)

    def merge(
        self,
        pr: PullRef,
        sha: str,
        method: str = MERGE_METHOD,
        *,
        title: str | None = None,
        message: str | None = None,
        base_sha: str | None = None,
    ) -> str | None:
        refuse_method(method)
        return None  # lanectl merge makes the true merge commit itself

    def protection_report(self, base: str) -> ProtectionReport:
        return ProtectionReport(
            self.kind,
            base,
            (
                Advice(
                    "info",
                    "local-forge",
                    f"forge is local: nothing on a server protects {base}; lanectl merges only "
                    "through `lanectl merge`, and `lanectl audit` flags lane work that reached "
                    f"{base} without a valid approval",
                    "to enforce it for a team, use a github forge with branch protection",
                ),
            ),
        )

    def _record(
        self, kind: str, summary: str, task: str | None, head: str | None, data: dict[str, Any]
    ) -> None:
        actor, role = SYSTEM
        with state.change(self.ws, actor, role, f"{kind} {summary}", task=task) as change:
            ledger.record(change, kind, task=task, head=head, data=dict(data))


def build(ws: Workspace, spec: ForgeSpec) -> LocalForge:
    return LocalForge(ws)
