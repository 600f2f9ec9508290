"""The review cache: (diff hash, model, prompt hash) → the signed record already made (ADR 0027).

There is no separate store to go stale or to be poisoned: the cache *is* the
signed review records on the state branch. A lookup reads the task's records
for the same agent and role at every head, keeps those of the same
``diff_sha256``, ``model`` and ``prompt_sha256`` that are complete, and
verifies the best one exactly as the gate would (signature, signer, role,
against the base branch's allowed_signers as it is *now*). A record at the
head being reviewed is the same review (nothing to do); one at an earlier
head — a rebase that left the diff unchanged — is carried over as a new
record at the new head that cites it. Incomplete reviews are never reused.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lanectl import evidence, records, signers
from lanectl.errors import LaneError

if TYPE_CHECKING:
    from lanectl.workspace import Workspace


@dataclass(frozen=True)
class Key:
    diff_sha256: str
    model: str
    prompt_sha256: str


@dataclass(frozen=True)
class Hit:
    record: records.Review
    path: str
    sha256: str  # of the record file's bytes

    @property
    def head(self) -> str:
        return self.record.head


def _matches(review: records.Review, key: Key) -> bool:
    return (
        review.complete
        and review.diff_sha256 == key.diff_sha256
        and review.model == key.model
        and review.prompt_sha256 == key.prompt_sha256
    )


def find(ws: Workspace, task: str, agent: str, role: str, key: Key, head: str) -> Hit | None:
    """The verified complete review of the same key by ``agent``; the one at ``head`` first."""
    root = ws.state_dir / evidence.DIRS[records.REVIEW] / task
    if not root.is_dir() or root.is_symlink():
        return None
    candidates: list[tuple[bool, str, str, str]] = []  # (at head, ts, head, rel)
    for name in os.listdir(root):
        if not records.HEAD.match(name):
            continue
        rel = records.relative_path(records.REVIEW, task, name, agent, role)
        try:
            data = evidence._read_regular(ws.state_dir / rel, evidence.MAX_RECORD_BYTES)
            review = records.load(records.REVIEW, data, rel)
        except (LaneError, OSError):
            continue
        if isinstance(review, records.Review) and _matches(review, key):
            candidates.append((name == head, review.ts, name, rel))
    if not candidates:
        return None
    candidates.sort(reverse=True)
    trust = signers.load_trust(ws)
    with signers.materialized(trust.text) as allowed:
        verifier = evidence._Verifier(allowed, allowed.parent)
        for _, _, at, rel in candidates:
            result = evidence.load_record(
                ws.state_dir / rel, rel, records.REVIEW, task=task, head=at, trust=trust,
                verifier=verifier,
            )  # fmt: skip
            if (
                isinstance(result, evidence.Verified)
                and isinstance(result.record, records.Review)
                and _matches(result.record, key)
            ):
                return Hit(result.record, rel, result.sha256)
    return None
