"""``lanectl merge``: a true merge commit of the approved work, only if the gate holds now.

Immediately before merging, the whole gate is evaluated again and the
approval commit is verified once more, on its own, with the BASE branch's
allowed_signers (never the work tree's or the task branch's). The merge is
made with plumbing, so it works whichever branch is checked out:
``git merge-tree --write-tree <base> <A>`` gives the tree, ``git
commit-tree`` makes a commit with parents (base, A) authored by the human
running the command, and the base ref moves by compare-and-swap. Squash and
rebase merges are never made: the signed approval stays in history.

When the base moved after the approval, the approval still holds: it is
bound to the reviewed head H, not to the base. The merge goes ahead when the
gate holds against the base as it is now (its policy, its signers, its risk
rules) and merge-tree reports no conflict; otherwise it is refused and the
builder brings the task up to date, which needs new reviews and a new
approval (ADR 0013).

On a remote forge (github) the same checks run, then the forge merges the
task's pull request at exactly A with method ``merge`` instead of the
plumbing (:func:`lanectl.forge.flow.land`, ADR 0016).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from lanectl import baseref, gatefacts, git, gitverify, ledger, signers, standing, state, taskops
from lanectl.approval import CLOSED_STATES, check_commit, one_line
from lanectl.forge import flow
from lanectl.forge.base import PullRef
from lanectl.gate import FAIL, Facts, GateResult, Stage, evaluate
from lanectl.refusal import Refusal, ledger_writable, policy_allows, record_refusal
from lanectl.tasks import Task
from lanectl.workspace import Workspace, actor


@dataclass(frozen=True)
class Merged:
    task_id: str
    commit: str  # the merge commit on the base branch
    approval: str  # A, or the standing approval that covered the task
    standing: bool
    head: str
    base: str
    base_before: str
    base_moved: bool  # the base had commits the task branch did not (a clean merge-tree)
    merger: str
    pull: PullRef | None = None  # the pull request merged on a remote forge (github)


@dataclass(frozen=True)
class _Merger:
    human: str
    name: str
    email: str


def _merger(ws: Workspace, raw: dict[str, Any], base: str) -> _Merger:
    """The human running the command: git's user.email must be a human of the base config."""
    email = git.config_get("user.email", ws.root) or ""
    for entry in raw.get("humans") or []:
        if not isinstance(entry, dict) or not isinstance(entry.get("id"), str) or not email:
            continue
        if str(entry.get("email") or "").lower() == email.lower():
            name = git.config_get("user.name", ws.root) or str(entry.get("name") or entry["id"])
            return _Merger(entry["id"], name, email)
    reason = f"git user.email '{email or '(unset)'}' is not a human in {base}'s config"
    raise Refusal(
        "only a human merges",
        [Stage("merger", FAIL, reason)],
        hint="run it as yourself (git config user.email), or `lanectl human add`",
    )


def _second_parent(ws: Workspace, facts: Facts, result: GateResult) -> tuple[str, str, bool]:
    """(the commit to merge, the approval it rests on, standing?) verified once more."""
    assert result.head is not None
    tip = git.rev_parse(f"refs/heads/{gatefacts.task_branch(result.task_id)}", ws.root)
    trust = signers.load_trust(ws)
    if trust.commit != facts.base_sha:
        raise _refuse("eligibility", f"{facts.base} moved while the gate was evaluated")
    human_of = {
        p: h
        for s in trust.signers
        for p in s.principals
        if (h := signers.human_of(p, trust.humans)) is not None
    }
    with gatefacts.verify_options(ws, trust) as options:
        if result.approval is not None:
            if tip != result.approval:
                raise _refuse("approval", f"lanes/{result.task_id} moved after the gate was read")
            a = gitverify.commit(ws.root, result.approval, options)
            problem = check_commit(
                a,
                task_id=result.task_id,
                head=result.head,
                head_tree=standing.tree_of(ws.root, result.head),
                human_of=human_of,
            )
            if problem:
                raise _refuse("approval", f"approval {a.sha[:7]} does not verify: {problem}")
            return a.sha, a.sha, False
        if result.standing is None or tip != result.head:
            raise _refuse("approval", "no approval commit and no standing approval covers it")
        c = gitverify.commit(ws.root, result.standing, options)
        empty = len(c.parents) == 1 and standing.tree_of(ws.root, c.parents[0]) == c.tree
        s = standing.from_commit(c, empty)
        problem = (
            "it is not a standing approval"
            if s is None
            else standing.problem(s, facts.changed, datetime.now(UTC), human_of)
        )
        if problem is None and not gitverify.is_ancestor(ws.root, c.sha, facts.base_sha):
            problem = f"it is not on {facts.base}"
        if problem:
            raise _refuse("approval", f"standing approval {c.sha[:7]} does not count: {problem}")
        return result.head, result.standing, True


def _refuse(stage: str, reason: str) -> Refusal:
    return Refusal("cannot merge", [Stage(stage, FAIL, reason)])


def message(task: Task, result: GateResult, approval: str, is_standing: bool) -> str:
    trailers = [f"Lane-Merge: {task.id}", f"Lane-Approval: {approval}"]
    if is_standing:
        trailers.append(f"Lane-Standing-Approval: {approval}")
    trailers += [f"Lane-Head: {result.head}", f"Lane-Tier: {result.tier.effective}"]
    return f"Merge {task.id}: {one_line(task.title)}\n\n" + "\n".join(trailers) + "\n"


def merge(ws: Workspace, task: Task) -> Merged:
    """Merge ``lanes/<task>`` into the base branch, or refuse (recorded) with every reason."""
    who = actor(ws)[0]
    head: str | None = None
    ledger_writable(ws)
    try:
        if task.state in CLOSED_STATES:
            raise Refusal("cannot merge", [Stage("task", FAIL, f"{task.id} is {task.state}")])
        base, _, raw = signers.load_base_config(ws)
        merger = _merger(ws, raw, base)
        who = merger.human
        policy_allows(ws, merger.human, "merge", task.id)
        worktree = baseref.refuse_dirty(ws.root, base, "the merge")
        facts = gatefacts.gather(ws, task)
        result = evaluate(facts)
        head = result.head
        failing = [s for s in result.stages if s.status == FAIL]
        if failing:
            raise Refusal(f"{task.id} cannot merge", failing)
        second, approval, is_standing = _second_parent(ws, facts, result)
        assert result.head is not None
        proc = git.run(
            [
                "-c",
                "core.commitGraph=false",
                "merge-tree",
                "--write-tree",
                "--no-messages",
                facts.base_sha,
                second,
            ],
            ws.root,
            check=False,
        )
        if proc.returncode != 0:
            raise _refuse("eligibility", f"{base} moved and now conflicts with lanes/{task.id}")
        tree = proc.stdout.decode().split()[0]
        text = message(task, result, approval, is_standing)
        # A remote forge merges A itself (sha=A, method merge); None: merge here.
        landed = flow.land(ws, raw, task, result, facts.base_sha, second, text)
    except Refusal as refusal:
        record_refusal(
            ws,
            "merge.refused",
            who,
            task=task.id,
            head=head,
            attempted=f"merge lanes/{task.id}",
            refusal=refusal,
        )
        raise
    if landed is None:
        env = {
            "GIT_AUTHOR_NAME": merger.name,
            "GIT_AUTHOR_EMAIL": merger.email,
            "GIT_COMMITTER_NAME": merger.name,
            "GIT_COMMITTER_EMAIL": merger.email,
        }
        sha = git.out(
            ["commit-tree", tree, "-p", facts.base_sha, "-p", second, "-F", "-"],
            ws.root,
            env=env,
            input=text.encode("utf-8"),
        )
        baseref.advance(ws.root, base, sha, facts.base_sha, worktree)
    else:
        sha = landed.commit
    moved = not facts.up_to_date
    with state.change(ws, merger.human, "human", f"merge {task.id}", task=task.id) as change:
        ledger.record(
            change,
            "merge.done",
            task=task.id,
            head=result.head,
            data={
                "merge": sha,
                "approval": approval,
                "standing": is_standing,
                "base": base,
                "base_before": facts.base_sha,
                "base_moved": moved,
                "tier": result.tier.effective,
                **({"forge": landed.to_json()} if landed else {}),
            },
        )
        taskops.set_state(ws, change, task, "merged")
    return Merged(
        task.id,
        sha,
        approval,
        is_standing,
        result.head,
        base,
        facts.base_sha,
        moved,
        merger.human,
        landed.pull if landed else None,
    )
