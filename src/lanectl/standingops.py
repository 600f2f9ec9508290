"""``lanectl approve --standing``: record a standing approval on the base branch.

The commit is empty (the base branch's tree), signed by the human's key, with
the trailers of :mod:`lanectl.standing`. It is verified with the base
branch's allowed_signers before the base branch moves (compare-and-swap), so
a key that would not count never lands there (ADR 0014).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from lanectl import baseref, gatefacts, git, gitverify, ledger, signers, standing, state
from lanectl.errors import LaneError
from lanectl.gate import FAIL, Stage
from lanectl.humankeys import Approver, identify, signed_commit, signing_key
from lanectl.refusal import Refusal, ledger_writable, policy_allows, record_refusal
from lanectl.workspace import Workspace, actor


@dataclass(frozen=True)
class Grant:
    """A standing approval about to be made (what the human confirms)."""

    base: str
    base_sha: str
    paths: tuple[str, ...]
    until: str
    approver: Approver
    worktree: Path | None  # where the base branch is checked out, if anywhere

    def lines(self) -> list[str]:
        expires = standing.expiry(self.until)
        when = expires.strftime("%Y-%m-%d %H:%M UTC") if expires else self.until
        return [
            "You are granting a standing approval for low-tier tasks",
            f"  whose every changed path matches: {', '.join(self.paths)}",
            f"  until {self.until} (it stops counting at {when})",
            f"  recorded on {self.base} as an empty commit signed by {self.approver.email} "
            f"with {self.approver.key.fingerprint}",
        ]


@dataclass(frozen=True)
class Granted:
    commit: str
    base: str
    paths: tuple[str, ...]
    until: str
    approver: str


def prepare(
    ws: Workspace, key: Path | None, paths: Sequence[str], until: str, now: datetime | None = None
) -> Grant:
    globs = standing.parse_paths(paths)
    when = standing.normalise_until(until, now or datetime.now(UTC))
    signing = signing_key(ws, key)
    trust = signers.load_trust(ws)
    _, _, raw = signers.load_base_config(ws)
    try:
        approver = identify(trust, raw, signing)
        policy_allows(ws, approver.human, "approve", None)
        worktree = baseref.refuse_dirty(ws.root, trust.base_branch, "a standing approval")
    except Refusal as not_human:
        _refused(ws, actor(ws)[0], not_human)
        raise
    except LaneError as exc:
        _refused(ws, actor(ws)[0], Refusal("standing approval", [Stage("base", FAIL, exc.message)]))
        raise
    return Grant(trust.base_branch, trust.commit, globs, when, approver, worktree)


def _refused(ws: Workspace, who: str, refusal: Refusal) -> None:
    record_refusal(
        ws,
        "approval.refused",
        who,
        task=None,
        head=None,
        attempted="record a standing approval",
        refusal=refusal,
    )


def commit(ws: Workspace, grant: Grant) -> Granted:
    ledger_writable(ws)
    tree = git.out(["rev-parse", f"{grant.base_sha}^{{tree}}"], ws.root)
    text = standing.message(grant.paths, grant.until)
    sha = signed_commit(ws.root, tree, [grant.base_sha], text, grant.approver)
    trust = signers.load_trust(ws)
    with gatefacts.verify_options(ws, trust) as options:
        made = gitverify.commit(ws.root, sha, options)
    if made.status != "G" or signers.human_of(made.principal, trust.humans) is None:
        refusal = Refusal(
            f"the standing approval {sha[:7]} does not verify; {grant.base} was not changed",
            [Stage("signature", FAIL, f"status {made.status}, signer {made.principal or '-'}")],
        )
        _refused(ws, grant.approver.human, refusal)
        raise refusal
    baseref.advance(ws.root, grant.base, sha, grant.base_sha, grant.worktree)
    who = grant.approver.human
    with state.change(ws, who, "human", f"standing approval {sha[:7]}") as change:
        ledger.record(
            change,
            "approval.recorded",
            head=sha,
            data={
                "standing": True,
                "commit": sha,
                "base": grant.base,
                "paths": list(grant.paths),
                "until": grant.until,
                "principal": grant.approver.principal,
                "fingerprint": grant.approver.key.fingerprint,
            },
        )
    return Granted(sha, grant.base, grant.paths, grant.until, who)
