"""Standing approvals: a human's signed approval for low-tier work in a scope.

A standing approval is an empty commit on the BASE branch, signed by a
human's SSH key, with two trailers (ADR 0014)::

    Lane-Standing-Paths: docs/**,sandbox/**
    Lane-Standing-Until: 2026-12-31

It covers a task whose effective tier is low, that has no approval commit,
and whose every changed path matches one of the globs, until the end of the
named day (UTC; or the exact instant when a time is given). The pure part
here judges one candidate; :func:`collect` reads the candidates from the base
branch's first-parent history through :mod:`lanectl.gitverify`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from lanectl import git, gitverify, globs
from lanectl.errors import LaneError

PATHS_TRAILER = "Lane-Standing-Paths"
UNTIL_TRAILER = "Lane-Standing-Until"
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class Standing:
    """One standing approval commit as read from the base branch."""

    sha: str
    status: str  # %G? with the base branch's allowed_signers
    principal: str  # %GS
    paths: tuple[str, ...]
    until: str  # as written in the trailer
    empty: bool  # its tree equals its parent's: it changes nothing

    @property
    def expires(self) -> datetime | None:
        return expiry(self.until)

    def label(self, human: str | None = None) -> str:
        who = f" by {human}" if human else ""
        return (
            f"standing approval {self.sha[:7]}{who} ({', '.join(self.paths)}; until {self.until})"
        )


def expiry(text: str) -> datetime | None:
    """The first instant a standing approval no longer holds; None if unreadable.

    A date means "through that day, UTC"; a time with a zone is exact; a
    time without a zone is UTC.
    """
    text = text.strip()
    try:
        if _DATE.match(text):
            return datetime.combine(date.fromisoformat(text), datetime.min.time(), UTC) + (
                timedelta(days=1)
            )
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def normalise_until(text: str, now: datetime) -> str:
    """``--until`` as it will be written in the trailer; refuses the past."""
    value = text.strip()
    moment = expiry(value)
    if moment is None:
        raise LaneError(f"--until '{text}' is not a date; use e.g. 2026-12-31 or 2026-12-31T18:00Z")
    if not _DATE.match(value):
        value = moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if moment <= now:
        raise LaneError(f"--until {value} is already in the past")
    return value


def parse_paths(values: Iterable[str]) -> tuple[str, ...]:
    """Globs from ``--paths`` (comma-separated, repeatable), validated."""
    found: list[str] = []
    for value in values:
        for item in value.split(","):
            glob = item.strip().lstrip("/")
            if not glob:
                continue
            if any(ch in glob for ch in "\n\r\t") or ".." in glob.split("/"):
                raise LaneError(f"--paths: '{item.strip()}' is not a path glob")
            if glob not in found:
                found.append(glob)
    if not found:
        raise LaneError("--paths needs at least one glob, e.g. 'docs/**'")
    return tuple(found)


def from_commit(commit: gitverify.Commit, empty: bool) -> Standing | None:
    paths = commit.trailer(PATHS_TRAILER)
    until = commit.trailer(UNTIL_TRAILER)
    if paths is None or until is None:
        return None
    return Standing(
        sha=commit.sha,
        status=commit.status,
        principal=commit.principal,
        paths=tuple(p.strip() for p in paths.split(",") if p.strip()),
        until=until,
        empty=empty,
    )


def problem(
    standing: Standing, changed: Sequence[str], now: datetime, human_of: Mapping[str, str]
) -> str | None:
    """Why ``standing`` does not cover a low-tier change of ``changed`` at ``now``."""
    if standing.status != "G" or standing.principal not in human_of:
        who = standing.principal or "nobody"
        return f"{standing.sha[:7]} is not signed by a human the base branch trusts ({who})"
    if not standing.empty:
        return f"{standing.sha[:7]} changes files; a standing approval must be an empty commit"
    expires = standing.expires
    if expires is None:
        return f"{standing.sha[:7]} has an unreadable {UNTIL_TRAILER}: {standing.until}"
    if now >= expires:
        return f"{standing.sha[:7]} expired ({standing.until})"
    outside = [p for p in changed if not globs.match_any(standing.paths, p)]
    if outside:
        return f"{outside[0]} is outside {standing.sha[:7]}'s scope ({', '.join(standing.paths)})"
    return None


def message(paths: Sequence[str], until: str) -> str:
    return (
        f"Standing approval: low-tier changes to {', '.join(paths)} until {until}\n\n"
        f"{PATHS_TRAILER}: {','.join(paths)}\n{UNTIL_TRAILER}: {until}\n"
    )


def tree_of(repo: Path, rev: str) -> str | None:
    proc = git.run(
        ["-c", "core.commitGraph=false", "rev-parse", "--verify", "--quiet", f"{rev}^{{tree}}"],
        repo,
        check=False,
    )
    return proc.stdout.decode().strip() if proc.returncode == 0 else None


def collect(repo: Path, rev: str, options: Sequence[str]) -> tuple[Standing, ...]:
    """Standing approvals on ``rev``'s first-parent history, newest first, verified."""
    found: list[Standing] = []
    candidates = gitverify.commits(
        repo, [f"--grep=^{PATHS_TRAILER}:", rev], options, first_parent=True
    )
    for commit in candidates:
        parent_tree = tree_of(repo, commit.parents[0]) if len(commit.parents) == 1 else None
        item = from_commit(commit, empty=parent_tree == commit.tree)
        if item is not None:
            found.append(item)
    return tuple(found)
