"""Where things are: the user's work tree, the git common dir, and the state worktree.

Policy (``.lanes/config.yaml``, ``allowed_signers``) and ADRs live in the user's
work tree and go to the base branch by normal review. State (tasks, ledger,
evidence) lives on a dedicated state branch checked out in a worktree under
the git common dir, so lanectl can commit it without touching the user's
checkout or index, and it can be pushed when the base branch is protected
(ADR 0005).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from lanectl import config, git, ids
from lanectl.errors import LaneError

TASKS_DIR = ".lanes/tasks"
LOG_DIR = ".lanes/log"
DECISIONS_DIR = "docs/decisions"
LANECTL_AUTHOR = ("lanectl", "lanectl@lanectl.invalid")


@dataclass(frozen=True)
class Workspace:
    root: Path  # the user's work tree
    common_dir: Path  # $(git rev-parse --git-common-dir)
    settings: config.Settings
    raw_config: dict[str, object]
    commit: bool  # commit state changes (config state.commit and --no-commit)

    @property
    def private_dir(self) -> Path:
        """Caches, locks, worktrees: under the git common dir, never in the tree."""
        return self.common_dir / "lanectl"

    @property
    def state_dir(self) -> Path:
        return self.private_dir / "state"

    @property
    def tasks_dir(self) -> Path:
        return self.state_dir / TASKS_DIR

    @property
    def log_dir(self) -> Path:
        return self.state_dir / LOG_DIR

    @property
    def decisions_dir(self) -> Path:
        return self.root / DECISIONS_DIR

    @property
    def cache_dir(self) -> Path:
        return self.private_dir / "cache"

    def state_ready(self) -> bool:
        return (self.state_dir / ".git").exists()


def find_root(start: Path) -> tuple[Path, Path]:
    top, common = git.discover(start)
    # Run from inside one of lanectl's own worktrees: act for the main work tree.
    private = common / "lanectl"
    if top == private or private in top.parents:
        top = common.parent
    return top, common


def open_workspace(
    repo: Path | None = None,
    *,
    require_init: bool = True,
    commit: bool = True,
    lenient: bool = False,
) -> Workspace:
    """The workspace for ``repo``; ``lenient`` (for ``check``) survives a broken config."""
    top, common = find_root((repo or Path.cwd()).resolve())
    try:
        raw = config.read_raw(top, common / "lanectl" / "cache")
    except LaneError:
        if not lenient:
            raise
        raw = {}
    if raw is None:
        if require_init:
            raise LaneError(f"lanectl is not initialised in {top}", hint="run `lanectl init` first")
        raw = {}
    settings = config.settings(raw)
    return Workspace(
        root=top,
        common_dir=common,
        settings=settings,
        raw_config=raw,
        commit=commit and settings.commit,
    )


def actor(ws: Workspace) -> tuple[str, str]:
    """(actor, role) for a person at this terminal: a configured human, by git email."""
    email = git.config_get("user.email", ws.root)
    for human_id, human_email in ws.settings.humans:
        if email and human_email.lower() == email.lower():
            return human_id, "human"
    name = email or os.environ.get("USER") or "unknown"
    return name, "human"


_SLUG = re.compile(r"[^a-z0-9]+")


def writer_id(ws: Workspace) -> str:
    """The one writer id of this clone: its ledger file name (one writer per file)."""
    path = ws.private_dir / "writer-id"
    try:
        value = path.read_text().strip()
        if re.fullmatch(r"[a-z0-9-]{3,64}", value):
            return value
    except FileNotFoundError:
        pass
    import socket

    host = _SLUG.sub("-", socket.gethostname().lower()).strip("-")[:24] or "host"
    value = f"{host}-{ids.encode(int.from_bytes(os.urandom(4), 'big'), 6).lower()}"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(value + "\n")
    try:
        os.link(tmp, path)  # first writer wins; never overwrite an existing id
    except FileExistsError:
        value = path.read_text().strip()
    finally:
        tmp.unlink()
    return value


def slugify(title: str, limit: int = 48) -> str:
    slug = _SLUG.sub("-", title.lower()).strip("-")
    return slug[:limit].rstrip("-") or "untitled"
