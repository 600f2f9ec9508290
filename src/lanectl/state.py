"""The state branch and lanectl's own commits to it.

Every state change happens inside :func:`change`: one lock for the clone, the
files written, then one commit of exactly the touched paths, authored by
``lanectl`` with ``Lane-Actor`` and ``Lane-Task`` trailers. The user's
checkout, index and branch are never touched (ADR 0005).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from lanectl import git
from lanectl.errors import LaneError
from lanectl.workspace import LANECTL_AUTHOR, Workspace

LOCK_TIMEOUT_S = 60.0


def lanectl_env() -> dict[str, str]:
    name, email = LANECTL_AUTHOR
    return {
        "GIT_AUTHOR_NAME": name,
        "GIT_AUTHOR_EMAIL": email,
        "GIT_COMMITTER_NAME": name,
        "GIT_COMMITTER_EMAIL": email,
    }


def ensure(ws: Workspace) -> Path:
    """Make sure the state branch exists and is checked out in its worktree."""
    if ws.state_ready():
        _check_on_branch(ws)
        return ws.state_dir
    branch = ws.settings.state_branch
    ws.private_dir.mkdir(parents=True, exist_ok=True)
    with _lock(ws):
        if ws.state_ready():
            return ws.state_dir
        if ws.state_dir.exists() and any(ws.state_dir.iterdir()):
            raise LaneError(
                f"{ws.state_dir} exists but is not a git worktree",
                hint="move it away and run the command again",
            )
        if git.rev_parse(f"refs/heads/{branch}", ws.root):
            git.worktree_add(ws.state_dir, branch, ws.root)
        elif git.rev_parse(f"refs/remotes/origin/{branch}", ws.root):
            git.worktree_add(ws.state_dir, branch, ws.root, start=f"origin/{branch}")
        else:
            git.create_orphan_branch(
                branch, "lanectl: start the state branch", ws.root, lanectl_env()
            )
            git.worktree_add(ws.state_dir, branch, ws.root)
    return ws.state_dir


def _check_on_branch(ws: Workspace) -> None:
    """Refuse to commit state anywhere but the state branch (a detached HEAD loses it)."""
    branch = git.current_branch(ws.state_dir)
    if branch != ws.settings.state_branch:
        where = f"on {branch}" if branch else "detached"
        raise LaneError(
            f"the state worktree {ws.state_dir} is {where}, not on {ws.settings.state_branch}",
            hint=f"run `git -C {ws.state_dir} checkout {ws.settings.state_branch}`",
        )


@contextmanager
def _lock(ws: Workspace) -> Iterator[None]:
    from filelock import FileLock, Timeout

    ws.private_dir.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(ws.private_dir / "state.lock"), timeout=LOCK_TIMEOUT_S)
    try:
        with lock:
            yield
    except Timeout:
        raise LaneError(
            f"another lanectl process has held {ws.private_dir / 'state.lock'} for "
            f"{LOCK_TIMEOUT_S:.0f} s",
            hint="wait for it, or check `ps` for a stuck lanectl",
        ) from None


@dataclass
class Change:
    """Paths touched by one command, committed together when it ends."""

    ws: Workspace
    actor: str
    role: str
    summary: str
    task: str | None = None
    paths: set[str] = field(default_factory=set)

    def touch(self, path: Path) -> None:
        self.paths.add(os.path.relpath(path, self.ws.state_dir))

    def message(self) -> str:
        trailers = [f"Lane-Actor: {self.actor}"]
        if self.task:
            trailers.append(f"Lane-Task: {self.task}")
        return f"{self.summary}\n\n" + "\n".join(trailers) + "\n"


@contextmanager
def change(
    ws: Workspace,
    actor: str,
    role: str,
    summary: str,
    task: str | None = None,
    *,
    repairing: bool = False,
) -> Iterator[Change]:
    """Hold the state lock while a command writes, then commit what it touched.

    If the command fails, nothing is committed; files it already wrote stay on
    disk (never lost) and are committed by the next change that touches them.
    """
    from lanectl import ledger
    from lanectl.workspace import writer_id

    ensure(ws)
    with _lock(ws):
        # Refuse before writing anything if our ledger file needs `audit --repair`.
        if not repairing:
            ledger.check_tail(ledger.file_for(ws.log_dir, writer_id(ws), ledger.now_ts()))
        current = Change(ws, actor, role, summary, task)
        yield current
        if ws.commit and current.paths:
            git.commit_paths(ws.state_dir, sorted(current.paths), current.message(), lanectl_env())


def atomic_write(path: Path, text: str) -> None:
    """Write via a temp file and ``os.replace``: readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8", newline="") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
