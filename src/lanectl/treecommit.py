"""Commit exactly what a builder left on disk, signed with its key, without running its code.

The worktree is read with plumbing only: every path that was tracked at the
start commit, in the worktree's index, or untracked and not ignored is
looked at with ``lstat`` (never through a symbolic link: a path whose
directory was swapped for a link is a deletion, and the link itself a new
entry), hashed with ``git hash-object --no-filters`` into a temporary index,
and written as a tree. No clean filter, hook or fsmonitor the agent could
have configured runs with lanectl's environment. The commit is made with
``commit-tree -S`` using the agent's lanectl-managed key; moving the branch
is the lease's job (:meth:`lanectl.lease.Lease.advance_branch`).
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from pathlib import Path

from lanectl import git

Entry = tuple[str, str]  # (mode, object id)


@dataclass(frozen=True)
class Snapshot:
    tree: str
    changed: tuple[str, ...]  # added, modified or deleted paths, sorted


def _z(text: bytes) -> list[str]:
    return [p for p in text.decode("utf-8", "surrogateescape").split("\0") if p]


def tree_entries(repo: Path, commit: str) -> dict[str, Entry]:
    """Every blob, link and gitlink in ``commit``'s tree: path → (mode, sha)."""
    proc = git.run(["ls-tree", "-r", "-z", "--full-tree", commit], repo)
    entries: dict[str, Entry] = {}
    for item in _z(proc.stdout):
        meta, _, path = item.partition("\t")
        mode, _kind, sha = meta.split()
        entries[path] = (mode, sha)
    return entries


def _inside(worktree: Path, rel: str) -> bool:
    """No component of ``rel`` above the last is a symbolic link or missing."""
    parts = rel.split("/")
    if any(p in ("", ".", "..", ".git") for p in parts):
        return False
    current = worktree
    for part in parts[:-1]:
        current = current / part
        try:
            if not stat.S_ISDIR(os.lstat(current).st_mode):
                return False
        except OSError:
            return False
    return True


def _hash_files(repo: Path, paths: list[Path]) -> list[str]:
    if not paths:
        return []
    data = "".join(f"{p}\n" for p in paths).encode("utf-8", "surrogateescape")
    out = git.out(["hash-object", "-w", "--no-filters", "--stdin-paths"], repo, input=data)
    return out.split()


def _hash_bytes(repo: Path, data: bytes) -> str:
    return git.out(["hash-object", "-w", "--no-filters", "--stdin"], repo, input=data)


def _candidates(worktree: Path, start: dict[str, Entry]) -> set[str]:
    options = ["-c", "core.fsmonitor=false", "-c", "core.untrackedCache=false"]
    cached = git.run([*options, "ls-files", "-z", "--cached"], worktree)
    others = git.run([*options, "ls-files", "-z", "--others", "--exclude-standard"], worktree)
    found = set(start) | set(_z(cached.stdout)) | set(_z(others.stdout))
    return {p for p in found if not p.endswith("/")}


def snapshot(repo: Path, worktree: Path, start: str, *, exclude: Collection[str] = ()) -> Snapshot:
    """The tree of what is on disk in ``worktree`` now, compared with ``start``."""
    before = tree_entries(repo, start)
    entries: dict[str, Entry] = {}
    files: list[tuple[str, str]] = []  # (path, mode) to hash from disk
    for rel in sorted(_candidates(worktree, before)):
        if rel in exclude:
            if rel in before:
                entries[rel] = before[rel]
            continue
        old = before.get(rel)
        if old is not None and old[0] == "160000":
            entries[rel] = old  # a submodule: its pointer is not the builder's to change here
            continue
        if not _inside(worktree, rel):
            continue
        path = worktree / rel
        try:
            info = os.lstat(path)
        except OSError:
            continue  # deleted
        if stat.S_ISLNK(info.st_mode):
            entries[rel] = ("120000", _hash_bytes(repo, os.fsencode(os.readlink(path))))
        elif stat.S_ISREG(info.st_mode):
            files.append((rel, "100755" if info.st_mode & stat.S_IXUSR else "100644"))
    hashed = _hash_files(repo, [worktree / rel for rel, _ in files])
    for (rel, mode), sha in zip(files, hashed, strict=True):
        entries[rel] = (mode, sha)
    changed = sorted(p for p in set(before) | set(entries) if before.get(p) != entries.get(p))
    return Snapshot(write_tree(repo, entries.items()), tuple(changed))


def write_tree(repo: Path, entries: Iterable[tuple[str, Entry]]) -> str:
    """A tree object from (path, (mode, sha)) entries, through a throwaway index."""
    with tempfile.TemporaryDirectory(prefix="lanectl-index-") as scratch:
        env = {"GIT_INDEX_FILE": str(Path(scratch) / "index")}
        lines = b"".join(
            f"{mode} {sha}\t".encode() + path.encode("utf-8", "surrogateescape") + b"\0"
            for path, (mode, sha) in entries
        )
        git.run(["update-index", "-z", "--index-info"], repo, env=env, input=lines)
        return git.out(["write-tree"], repo, env=env)


def signed_commit(
    repo: Path,
    tree: str,
    parent: str,
    message: str,
    *,
    key: Path,
    author: tuple[str, str],
) -> str:
    """``git commit-tree -S`` with the agent's key (ssh format, ssh-keygen pinned)."""
    name, email = author
    env = {
        "GIT_AUTHOR_NAME": name,
        "GIT_AUTHOR_EMAIL": email,
        "GIT_COMMITTER_NAME": name,
        "GIT_COMMITTER_EMAIL": email,
    }
    return git.out(
        [
            "-c",
            "gpg.format=ssh",
            "-c",
            "gpg.ssh.program=ssh-keygen",
            "-c",
            f"user.signingkey={key}",
            "commit-tree",
            "-S",
            tree,
            "-p",
            parent,
            "-F",
            "-",
        ],
        repo,
        env=env,
        input=message.encode("utf-8"),
    )
