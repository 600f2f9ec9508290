"""The forge interface: where pull requests, review comments, statuses and merges go.

Plain data and one :class:`Forge` protocol, with no forge SDK behind it, so
the CLI, the merge and the gate use it without importing PyGithub. The
``local`` forge (offline: the task branch is the pull request) and the
``github`` forge implement it; :mod:`lanectl.forge.registry` picks one by
``forge.kind`` (ADR 0016).

Agents never approve or request changes on a forge: a posted review is
always a ``COMMENT``; only a signed approval commit and ``lanectl merge``
land work (SPEC §6.5, §10).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

from lanectl.errors import LaneError, Refused

if TYPE_CHECKING:
    from lanectl.forge.diffmap import DiffMap
    from lanectl.records import Review

STATUS_CONTEXT = "lanectl/gate"
STATUS_STATES = ("pending", "success", "failure")
MERGE_METHOD = "merge"
REVIEW_EVENT = "COMMENT"  # the only event lanectl ever sends
Side = Literal["LEFT", "RIGHT"]
Level = Literal["ok", "info", "warn", "error"]

# Why a forge call failed, decided from the status and body (never the SDK's class).
ErrorKind = Literal[
    "auth",  # 401: the token is wrong or expired
    "forbidden",  # 403 without a rate limit: the token lacks a permission
    "rate_limited",  # 403/429 primary or secondary rate limit (retry_after when known)
    "not_found",  # 404
    "head_moved",  # 409, or the head on the forge is not the commit lanectl judged
    "base_moved",  # the base on the forge is not the commit the gate judged
    "not_mergeable",  # 405: conflicts, a required check, or the method is not allowed
    "invalid",  # 422: the forge rejected the request's content
    "server",  # 5xx
    "network",  # no answer: connection refused, reset, timeout
    "config",  # lanectl's forge settings are incomplete
]
# Failures that mean "the gate's conditions do not hold on the forge": a merge
# refuses (exit 3, recorded). The others are errors (exit 1).
REFUSALS: frozenset[str] = frozenset({"head_moved", "base_moved", "not_mergeable", "invalid"})


class ForgeError(LaneError):
    """A forge call failed; the message is one line a person can act on, never a secret."""

    def __init__(
        self,
        message: str,
        *,
        kind: ErrorKind,
        status: int | None = None,
        retry_after: float | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.kind = kind
        self.status = status
        self.retry_after = retry_after


def refuse_method(method: str) -> None:
    """Only true merges: squash and rebase drop the signed approval commit (SPEC §6.5)."""
    if method != MERGE_METHOD:
        raise Refused(
            f"lanectl merges only with method '{MERGE_METHOD}', not '{method}': a squash or "
            "rebase drops the signed approval commit from history",
            hint="merge with `lanectl merge ID`",
        )


def check_state(state: str) -> None:
    if state not in STATUS_STATES:
        raise ForgeError(f"status state must be one of {', '.join(STATUS_STATES)}", kind="invalid")


def head_moved(branch: str, where: str, have: str | None, want: str) -> ForgeError:
    """The forge's head of ``branch`` is not the commit lanectl judged."""
    return ForgeError(
        f"{branch} on {where} is at {(have or 'nothing')[:7]}, not the approved {want[:7]}",
        kind="head_moved",
        hint=f"push it (git push <remote> {branch}), then run lanectl merge again",
    )


@dataclass(frozen=True)
class PullRef:
    """The pull request of a task: on ``local`` it is the task branch itself."""

    forge: str  # the forge kind
    head: str  # the head branch (lanes/<task>)
    base: str
    number: int | None = None  # None on the local forge
    url: str | None = None  # where a person looks at it
    head_sha: str | None = None  # the commit the forge has as the head
    created: bool = False  # opened by this call
    updated: bool = False  # title or body changed by this call

    @property
    def label(self) -> str:
        return f"#{self.number}" if self.number is not None else self.head

    def to_json(self) -> dict[str, Any]:
        return {
            "forge": self.forge,
            "number": self.number,
            "url": self.url,
            "head": self.head,
            "head_sha": self.head_sha,
            "base": self.base,
            "created": self.created,
            "updated": self.updated,
        }


@dataclass(frozen=True)
class InlineComment:
    """A comment on lines of the new (RIGHT) or old (LEFT) side of a file in the diff.

    ``start_line`` makes it a multi-line comment over ``start_line..line`` on
    ``side`` (GitHub's ``start_side``); both ends must be in one hunk.
    """

    path: str
    line: int
    body: str
    side: Side = "RIGHT"
    start_line: int | None = None

    @property
    def where(self) -> str:
        lines = f"{self.start_line}-{self.line}" if self.start_line else str(self.line)
        return f"{self.path}:{lines}" + (" (old side)" if self.side == "LEFT" else "")


@dataclass(frozen=True)
class ReviewPost:
    """What one review looks like on a forge: a body and inline comments, at a head."""

    key: str  # identifies the review (role, agent, head): posting twice posts once
    head: str  # the commit the review is about
    body: str
    comments: tuple[InlineComment, ...] = ()


@dataclass(frozen=True)
class Posted:
    """The result of posting a review: where each comment went."""

    review_id: int | None  # None on the local forge (the review is its record)
    inline: tuple[InlineComment, ...]  # placed on lines of the diff
    moved: tuple[InlineComment, ...]  # outside the diff: put in the review body instead
    already: bool = False  # an identical review was already there (nothing sent)

    def to_json(self) -> dict[str, Any]:
        return {
            "review_id": self.review_id,
            "inline": [c.where for c in self.inline],
            "in_body": [c.where for c in self.moved],
            "already_posted": self.already,
        }


@dataclass(frozen=True)
class Advice:
    """One finding of ``doctor``: what is wrong (or fine), and how to fix it."""

    level: Level
    code: str  # stable, for scripts: squash-only, status-not-required, bypass-actors, …
    message: str
    fix: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"level": self.level, "code": self.code, "message": self.message, "fix": self.fix}


@dataclass(frozen=True)
class ProtectionReport:
    forge: str
    branch: str
    items: tuple[Advice, ...] = field(default=())

    @property
    def warnings(self) -> tuple[Advice, ...]:
        return tuple(a for a in self.items if a.level in ("warn", "error"))


class Forge(Protocol):
    """One forge. Every method fails with :class:`ForgeError` (one line, no secret)."""

    kind: str

    def open_or_update_pr(
        self, task: str, head_branch: str, base: str, title: str, body: str
    ) -> PullRef:
        """The open pull request of ``head_branch`` into ``base``: found, updated, or opened."""
        ...

    def post_review(self, pr: PullRef, review: Review | ReviewPost, diff_hunks: DiffMap) -> Posted:
        """Post a review as a ``COMMENT``; comments outside ``diff_hunks`` go to the body."""
        ...

    def upsert_summary(self, pr: PullRef, role: str, markdown: str) -> None:
        """One sticky comment per role, found by its hidden marker and edited in place."""
        ...

    def set_status(
        self, sha: str, state: str, description: str, target_url: str | None = None
    ) -> None:
        """The ``lanectl/gate`` commit status of ``sha``: pending, success or failure."""
        ...

    def merge(
        self,
        pr: PullRef,
        sha: str,
        method: str = MERGE_METHOD,
        *,
        title: str | None = None,
        message: str | None = None,
        base_sha: str | None = None,
    ) -> str | None:
        """Merge ``pr`` at exactly ``sha`` with a true merge; the merge commit's id.

        ``base_sha`` is the base commit the gate judged: the forge refuses when
        its base is elsewhere. ``None`` means the forge has nowhere to merge
        remotely (``local``: ``lanectl merge`` makes the merge commit itself).
        """
        ...

    def protection_report(self, base: str) -> ProtectionReport:
        """What the forge's settings let people do to ``base`` around the gate."""
        ...


def as_post(review: Review | ReviewPost) -> ReviewPost:
    """A review record as the forge shows it (findings with a line become inline comments)."""
    if isinstance(review, ReviewPost):
        return review
    from lanectl.forge import compose

    return compose.review_post(review)
