"""Task worktrees made and removed at once by many builders and reviewers."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from conftest import git
from lanectl import worktrees
from lanectl.workspace import open_workspace


def test_worktrees_made_and_removed_at_once_never_trip_over_each_other(
    lane_repo: Path,
) -> None:
    ws = open_workspace(lane_repo)
    start = git(lane_repo, "rev-parse", "HEAD")
    tasks = [f"T-{n:08d}" for n in range(10)]
    for _ in range(3):
        with ThreadPoolExecutor(max_workers=len(tasks)) as pool:
            made = list(pool.map(lambda t: worktrees.prepare(ws, t, start), tasks))
        assert all((p.path / "README.md").is_file() for p in made)
        with ThreadPoolExecutor(max_workers=len(tasks)) as pool:
            list(pool.map(lambda t: worktrees.remove(ws, t), tasks))
        assert not any(worktrees.path_for(ws, t).exists() for t in tasks)
    listed = git(lane_repo, "worktree", "list", "--porcelain")
    assert not any(t in listed for t in tasks)
