"""Moving the base branch forward safely (approvals and merges write to it).

The branch ref moves with a compare-and-swap from the commit lanectl judged,
so a concurrent push or merge is never overwritten. When the base branch is
checked out in a work tree, that work tree comes along with ``git merge
--ff-only`` (ref, index and files in one step) and must be clean: lanectl
refuses before it changes anything rather than mix a person's edits into a
merge (ADR 0013).
"""

from __future__ import annotations

from pathlib import Path

from lanectl import git
from lanectl.errors import LaneError, Refused

# Reading a work tree's status must not run a program the repository names.
_STATUS = ("-c", "core.fsmonitor=false", "-c", "core.untrackedCache=false")


def checked_out(repo: Path, branch: str) -> Path | None:
    """The work tree that has ``branch`` checked out, if any."""
    text = git.out(["worktree", "list", "--porcelain", "-z"], repo)
    current: Path | None = None
    for item in text.split("\0"):
        if item.startswith("worktree "):
            current = Path(item[len("worktree ") :])
        elif item == f"branch refs/heads/{branch}" and current is not None:
            return current
    return None


def is_dirty(worktree: Path) -> bool:
    """Tracked files changed or staged (untracked files do not count)."""
    proc = git.run([*_STATUS, "status", "--porcelain=v1", "-z", "--untracked-files=no"], worktree)
    return bool(proc.stdout.strip(b"\0"))


def refuse_dirty(repo: Path, branch: str, doing: str) -> Path | None:
    """The work tree of ``branch`` (None if it is not checked out); refuses a dirty one."""
    worktree = checked_out(repo, branch)
    if worktree is not None and is_dirty(worktree):
        raise Refused(
            f"{branch} is checked out in {worktree} with uncommitted changes; "
            f"{doing} would move it under them",
            hint="commit or stash them (git stash), or check out another branch, then run again",
        )
    return worktree


def advance(repo: Path, branch: str, new: str, old: str, worktree: Path | None) -> None:
    """Move ``refs/heads/<branch>`` from ``old`` to ``new`` (a descendant of ``old``)."""
    moved = LaneError(
        f"{branch} moved while lanectl was working; nothing was changed",
        hint="run the command again",
    )
    if worktree is None:
        proc = git.run(["update-ref", f"refs/heads/{branch}", new, old], repo, check=False)
        if proc.returncode != 0:
            raise moved
        return
    if git.rev_parse("HEAD", worktree) != old:
        raise moved
    if is_dirty(worktree):
        raise Refused(
            f"{branch} is checked out in {worktree} and changed while lanectl was working",
            hint="commit or stash the changes, then run again",
        )
    proc = git.run(
        ["merge", "--ff-only", "--no-verify-signatures", "--no-stat", "--quiet", new],
        worktree,
        check=False,
    )
    if proc.returncode != 0:
        detail = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise LaneError(
            f"could not bring the work tree {worktree} to {new[:7]}: "
            f"{detail[0] if detail else 'git merge --ff-only failed'}",
            hint=f"nothing was changed; fix that, then run again (or `git -C {worktree} "
            f"merge --ff-only {new[:12]}`)",
        )
    if git.rev_parse(f"refs/heads/{branch}", repo) != new:
        raise LaneError(f"{branch} did not move to {new[:7]}", hint="run the command again")
