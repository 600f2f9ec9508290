"""Where the gate meets the forge: the task's pull request, its status, its merge.

Every function here takes the base branch's config (never the work tree's:
a task branch must not be able to send lanectl's token somewhere else) and
does nothing for the ``local`` forge beyond what ``lanectl merge`` already
does itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lanectl import signers, tasks, yamlio
from lanectl.errors import LaneError
from lanectl.forge import compose
from lanectl.forge.base import MERGE_METHOD, REFUSALS, Forge, ForgeError, PullRef, head_moved
from lanectl.forge.registry import ForgeSpec, open_forge
from lanectl.gate import FAIL, GateResult, Stage
from lanectl.refusal import Refusal
from lanectl.tasks import Task
from lanectl.workspace import Workspace


def is_local(raw: Mapping[str, Any]) -> bool:
    return ForgeSpec.from_config(raw).kind == "local"


def open_pull(ws: Workspace, forge: Forge, task: Task, base: str) -> PullRef:
    """The task's pull request, opened (or its title and body refreshed) from its spec."""
    try:
        spec = yamlio.split(tasks.read_text(ws, task), task.rel_path).body
    except LaneError:
        spec = ""
    body = compose.pr_body(task.id, task.rel_path, ws.settings.state_branch, spec)
    branch = f"lanes/{task.id}"
    return forge.open_or_update_pr(
        task.id, branch, base, compose.pr_title(task.id, task.title), body
    )


@dataclass(frozen=True)
class Landed:
    commit: str  # the merge commit the forge made
    pull: PullRef

    def to_json(self) -> dict[str, Any]:
        return {"commit": self.commit, **self.pull.to_json()}


def land(
    ws: Workspace,
    raw: Mapping[str, Any],
    task: Task,
    result: GateResult,
    base_sha: str,
    sha: str,
    message: str,
) -> Landed | None:
    """Merge ``sha`` (the approval) on the forge; None for ``local`` (merged with plumbing).

    Called by ``lanectl merge`` after the whole gate held: the status
    ``lanectl/gate`` of ``sha`` becomes success (a required check can then
    pass), then the forge merges with ``sha=`` and method ``merge``, only if
    its base is still ``base_sha``. A forge that says the gate's conditions do
    not hold there (head or base elsewhere, not mergeable) is a refusal.
    """
    if is_local(raw):
        return None
    forge = open_forge(ws, raw)
    base = ws.settings.base_branch
    title, _, rest = message.partition("\n")
    try:
        pull = open_pull(ws, forge, task, base)
        if pull.head_sha != sha:  # before a status on a commit the forge may not have
            raise head_moved(pull.head, forge.kind, pull.head_sha, sha)
        status = compose.gate_status(result)
        if status is not None and status[0] == sha:
            forge.set_status(sha, status[1], status[2])
        commit = forge.merge(
            pull, sha, MERGE_METHOD, title=title, message=rest.strip() + "\n", base_sha=base_sha
        )
    except ForgeError as exc:
        ours = exc.kind == "not_found" and exc.status is None  # the branch is not there
        if exc.kind not in REFUSALS and not ours:
            raise
        raise Refusal(
            f"{task.id} cannot merge on {forge.kind}", [Stage("forge", FAIL, exc.message)], exc.hint
        ) from None
    if commit is None:
        raise LaneError(f"the {forge.kind} forge did not say which commit it merged")
    return Landed(commit, pull)


@dataclass(frozen=True)
class Published:
    forge: str
    sha: str
    state: str
    description: str
    error: str | None = None


def publish_gate(ws: Workspace, result: GateResult) -> Published | None:
    """Set ``lanectl/gate`` on the task branch's tip on a remote forge (``lanectl gate``).

    None for the local forge or a task without a branch. A forge failure does
    not change the verdict: it comes back as ``error`` for a warning.
    """
    _, _, raw = signers.load_base_config(ws)
    status = compose.gate_status(result)
    if is_local(raw) or status is None:
        return None
    sha, state, description = status
    kind = ForgeSpec.from_config(raw).kind
    try:
        open_forge(ws, raw).set_status(sha, state, description)
    except ForgeError as exc:
        return Published(kind, sha, state, description, str(exc))
    return Published(kind, sha, state, description)
