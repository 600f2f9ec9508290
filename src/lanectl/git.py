"""The one seam to git: small named functions over ``git`` argv lists.

Every call scrubs inherited ``GIT_*`` variables (a hook or an agent could set
``GIT_DIR`` or ``GIT_INDEX_FILE`` and redirect us), turns off object
replacement, and raises :class:`GitError` with git's own first line of stderr.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from lanectl.errors import GitError, LaneError

EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"

# Options that keep lanectl's own git calls independent of what the repository
# configures: no hooks, no signing prompts, no pager, no replaced objects.
SAFE_CONFIG = (
    "-c",
    "core.hooksPath=/dev/null",
    "-c",
    "commit.gpgsign=false",
    "-c",
    "tag.gpgsign=false",
    "-c",
    "core.pager=cat",
    "-c",
    "advice.detachedHead=false",
)


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env["GIT_NO_REPLACE_OBJECTS"] = "1"  # refs/replace/* must not change what we see
    env["GIT_GRAFT_FILE"] = "/dev/null/no-grafts"  # nor info/grafts
    env["GIT_TERMINAL_PROMPT"] = "0"
    env["LC_ALL"] = "C"
    if extra:
        env.update(extra)
    return env


def run(
    args: Sequence[str],
    cwd: Path,
    *,
    env: Mapping[str, str] | None = None,
    input: bytes | None = None,
    check: bool = True,
) -> subprocess.CompletedProcess[bytes]:
    argv = ["git", *SAFE_CONFIG, *args]
    try:
        proc = subprocess.run(
            argv,
            cwd=cwd,
            env=clean_env(env),
            input=input,
            capture_output=True,
            check=False,
        )
    except FileNotFoundError as exc:
        raise LaneError("git is not installed or not on PATH") from exc
    if check and proc.returncode != 0:
        first = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        detail = first[0] if first else f"exit {proc.returncode}"
        raise GitError(f"git {args[0]} failed: {detail}")
    return proc


def out(args: Sequence[str], cwd: Path, **kw: object) -> str:
    proc = run(args, cwd, **kw)  # type: ignore[arg-type]
    return proc.stdout.decode("utf-8", "surrogateescape").rstrip("\n")


def discover(path: Path) -> tuple[Path, Path]:
    """Return (work tree top level, git common dir) for ``path``.

    Raises a LaneError a user can act on outside a repository.
    """
    if not path.exists():
        raise LaneError(f"{path}: no such directory")
    proc = run(
        ["rev-parse", "--show-toplevel", "--git-common-dir"],
        path,
        check=False,
    )
    if proc.returncode != 0:
        raise LaneError(
            f"{path} is not inside a git repository",
            hint="run `git init` first, or pass --repo PATH",
        )
    lines = proc.stdout.decode("utf-8", "surrogateescape").splitlines()
    if len(lines) < 2 or not lines[0]:
        raise LaneError(f"{path} is a bare repository; lanectl needs a work tree")
    top = Path(lines[0])
    common = Path(lines[1])
    if not common.is_absolute():
        common = (path / common).resolve()
    return top, common


def rev_parse(ref: str, cwd: Path) -> str | None:
    proc = run(["rev-parse", "--verify", "--quiet", ref + "^{commit}"], cwd, check=False)
    if proc.returncode != 0:
        return None
    return proc.stdout.decode().strip()


def current_branch(cwd: Path) -> str | None:
    proc = run(["symbolic-ref", "--quiet", "--short", "HEAD"], cwd, check=False)
    if proc.returncode != 0:
        return None
    return proc.stdout.decode().strip() or None


def local_branches(cwd: Path) -> list[str]:
    text = out(["for-each-ref", "--format=%(refname:short)", "refs/heads/"], cwd)
    return [line for line in text.splitlines() if line]


def ls_tree_names(ref: str, directory: str, cwd: Path) -> list[str]:
    """File names (not paths) directly under ``directory`` at ``ref``; [] if absent."""
    proc = run(["ls-tree", "-z", "--name-only", f"{ref}:{directory}"], cwd, check=False)
    if proc.returncode != 0:
        return []
    return [n for n in proc.stdout.decode("utf-8", "surrogateescape").split("\0") if n]


def show_file(ref: str, path: str, cwd: Path) -> bytes | None:
    proc = run(["cat-file", "blob", f"{ref}:{path}"], cwd, check=False)
    if proc.returncode != 0:
        return None
    return proc.stdout


def create_orphan_branch(branch: str, message: str, cwd: Path, env: Mapping[str, str]) -> str:
    """Create ``branch`` on a root commit with an empty tree, only if it does not exist."""
    run(["hash-object", "-t", "tree", "-w", "--stdin"], cwd, input=b"")
    commit = out(["commit-tree", EMPTY_TREE, "-m", message], cwd, env=env)
    # Compare-and-swap against "must not exist": a concurrent creator wins cleanly.
    run(["update-ref", f"refs/heads/{branch}", commit, "0" * 40], cwd)
    return commit


def worktree_add(path: Path, branch: str, cwd: Path, *, start: str | None = None) -> None:
    run(["worktree", "prune"], cwd)
    if start is None:
        run(["worktree", "add", "--quiet", str(path), branch], cwd)
    else:
        run(["worktree", "add", "--quiet", "-b", branch, str(path), start], cwd)


def commit_paths(
    worktree: Path, paths: Sequence[str], message: str, env: Mapping[str, str]
) -> str | None:
    """Stage exactly ``paths`` in ``worktree`` and commit them; None if nothing changed."""
    if not paths:
        return None
    run(["add", "--all", "--", *paths], worktree)
    proc = run(["diff", "--cached", "--quiet", "--", *paths], worktree, check=False)
    if proc.returncode == 0:
        return None
    run(["commit", "--quiet", "--no-verify", "-m", message, "--", *paths], worktree, env=env)
    return out(["rev-parse", "HEAD"], worktree)


def config_get(key: str, cwd: Path) -> str | None:
    proc = run(["config", "--get", key], cwd, check=False)
    if proc.returncode != 0:
        return None
    return proc.stdout.decode("utf-8", "replace").strip() or None


def worktree_paths(cwd: Path) -> list[Path]:
    """Every work tree of the repository (the main one and each linked one)."""
    text = out(["worktree", "list", "--porcelain", "-z"], cwd)
    prefix = "worktree "
    return [Path(item[len(prefix) :]) for item in text.split("\0") if item.startswith(prefix)]


def remote_names(cwd: Path) -> list[str]:
    """The names of the repository's configured remotes (``git remote``)."""
    return [line for line in out(["remote"], cwd).splitlines() if line]
