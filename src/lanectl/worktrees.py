"""Task worktrees: ``<git common dir>/lanectl/worktrees/<task>``, detached at the build's start.

A builder works in a worktree of its own, checked out *detached* at the
commit the build starts from, so nothing the agent does in it moves
``lanes/<task>``: only lanectl moves the branch, with a signed commit of what
the agent left on disk, under the task's lease (:mod:`lanectl.lease`). A
worktree left by a crashed build is reset to the start commit before it is
used again; a finished build's worktree is removed. Filter drivers from the
repository's own config are switched off for these checkouts: an agent can
write ``.git/config``, and lanectl must not run what it put there (ADR 0018).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from lanectl import git, ids
from lanectl.errors import LaneError
from lanectl.workspace import Workspace

PROMPT_FILE = ".lanectl-prompt.md"  # written for the agent, never committed
ADMIN_TIMEOUT_S = 120.0


def path_for(ws: Workspace, task: str) -> Path:
    if not ids.is_task_id(task):
        raise LaneError(f"'{task}' is not a task id")
    return ws.private_dir / "worktrees" / task


def defused(repo: Path) -> list[str]:
    """``-c`` options that switch off filter drivers the repository's own config defines."""
    proc = git.run(
        [
            "config",
            "--show-scope",
            "--name-only",
            "--get-regexp",
            r"^filter\..*\.(clean|smudge|process)$",
        ],
        repo,
        check=False,
    )
    options: list[str] = []
    for line in proc.stdout.decode("utf-8", "replace").splitlines():
        scope, _, name = line.partition("\t")
        if scope in ("local", "worktree", "command") and name:
            options += ["-c", f"{name}="]
    return options


@dataclass(frozen=True)
class Prepared:
    path: Path
    reused: bool  # an earlier (crashed or blocked) build's worktree, reset


@contextmanager
def admin(ws: Workspace) -> Iterator[None]:
    """Add, remove and prune worktrees one at a time, across threads and processes.

    ``git worktree add`` writes the new worktree's admin directory in steps
    while every other worktree command reads all of them, and ``prune`` drops
    one that looks half made: builders and reviewers starting at once failed
    with "failed to read .git/worktrees/…/commondir".
    """
    from filelock import FileLock

    ws.private_dir.mkdir(parents=True, exist_ok=True)
    with FileLock(str(ws.private_dir / "worktrees.lock"), timeout=ADMIN_TIMEOUT_S):
        yield


def add_detached(ws: Workspace, path: Path, start: str) -> None:
    """A new worktree at ``path``, detached at ``start``, filter drivers off."""
    with admin(ws):
        if path.exists():
            shutil.rmtree(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        git.run(
            [*defused(ws.root), "worktree", "add", "--quiet", "--force", "--detach", str(path),
             start],
            ws.root,
        )  # fmt: skip


def remove_path(ws: Workspace, path: Path) -> None:
    with admin(ws):
        if path.exists():
            git.run(["worktree", "remove", "--force", "--force", str(path)], ws.root, check=False)
            if path.exists():
                shutil.rmtree(path, ignore_errors=True)
        git.run(["worktree", "prune"], ws.root, check=False)


def prepare(ws: Workspace, task: str, start: str) -> Prepared:
    """A clean worktree for ``task`` at ``start`` (detached), new or reset."""
    path = path_for(ws, task)
    with admin(ws):
        git.run(["worktree", "prune"], ws.root)
        registered = path.resolve() in {p.resolve() for p in git.worktree_paths(ws.root)}
    if registered and (path / ".git").is_file():
        options = defused(ws.root)
        git.run([*options, "checkout", "--quiet", "--force", "--detach", start], path)
        git.run([*options, "clean", "-ffdxq"], path)
        return Prepared(path, reused=True)
    add_detached(ws, path, start)
    return Prepared(path, reused=False)


def remove(ws: Workspace, task: str) -> None:
    remove_path(ws, path_for(ws, task))
