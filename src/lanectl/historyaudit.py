"""``lanectl audit``, the history part: every lane merge on the base branch was approved.

Walks the base branch's first-parent history (SPEC §6.5, ADR 0013). Each
commit is judged under the policy in force when it landed: the
``.lanes/allowed_signers``, ``.lanes/revoked_signers`` and
``.lanes/config.yaml`` of its first parent, read from git objects.

* A merge of lane work — a ``Lane-Merge`` trailer, ``lanes/T-…`` in its
  message, or ``Lane-Task``/``Lane-Actor`` trailers in what it brings in — must
  have as second parent a valid approval commit (signed by a human then
  trusted, bound to its parent, approving at least the tier the rules then in
  force give the change; for high tier, by a human who signed no work in the
  range), or be covered by a standing approval on the base branch that was
  valid at the merge's time; and its tree must be the clean merge of its
  parents (nothing added in the merge itself).
* A direct (non-merge) commit is flagged when it is signed by an ``agent:``
  principal, attributed to an agent by ``Lane-Actor``, or carries lane work
  (``Lane-Task``, ``Lane-Merge``) without a merge commit: a fast-forward,
  squash or rebase loses the signed approval.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lanectl import approval, config, git, gitverify, risk, signers, standing, yamlio
from lanectl.errors import LaneError
from lanectl.gate import APPROVAL_TRAILER
from lanectl.workspace import Workspace

REVOKED_PATH = ".lanes/revoked_signers"
POLICY_FILES = (signers.PATH, REVOKED_PATH, config.CONFIG_PATH)
SEP, END = "\x1f", "\x1e"
BATCH = 500  # commits verified per git process
_LOG = SEP.join(["%H", "%P", "%T", "%ct", "%s", "%(trailers:only,unfold)"]) + END
_SAFE = (
    "-c",
    "core.commitGraph=false",
    "-c",
    "log.showSignature=false",
    "-c",
    "log.mailmap=false",
    "-c",
    "i18n.logOutputEncoding=UTF-8",
)


@dataclass(frozen=True)
class Finding:
    commit: str
    kind: str  # merge | direct
    reason: str
    task: str | None = None

    def __str__(self) -> str:
        what = f"merge of {self.task}" if self.kind == "merge" else "direct commit"
        return f"{self.commit[:7]} {what}: {self.reason}"

    def to_json(self) -> dict[str, Any]:
        return {"commit": self.commit, "kind": self.kind, "task": self.task, "reason": self.reason}


@dataclass
class HistoryReport:
    rev: str
    commits: int = 0
    merges: int = 0
    lane_merges: int = 0
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings


@dataclass(frozen=True)
class _Entry:
    sha: str
    parents: tuple[str, ...]
    tree: str
    time: int
    subject: str
    trailers: tuple[tuple[str, str], ...]

    def trailer(self, key: str) -> str | None:
        values = [v for k, v in self.trailers if k.lower() == key.lower()]
        return values[-1] if values else None


@dataclass(frozen=True)
class _Policy:
    """Signers, humans, agents and risk rules in force at one commit."""

    signers_text: str
    revoked: bytes | None
    human_of: dict[str, str]
    agents: frozenset[str]
    rules: tuple[tuple[tuple[str, ...], str, str], ...]

    def names_agent(self, actor: str) -> bool:
        return signers.is_agent(actor) or actor in self.agents


def _trailers(text: str) -> tuple[tuple[str, str], ...]:
    pairs = []
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip():
            pairs.append((key.strip(), value.strip()))
    return tuple(pairs)


def _walk(repo: Path, rev: str) -> list[_Entry]:
    text = git.out(
        [
            *_SAFE,
            "log",
            "--first-parent",
            "--reverse",
            "--no-show-signature",
            f"--format={_LOG}",
            rev,
            "--",
        ],
        repo,
    )
    entries = []
    for record in text.split(END):
        fields = record.strip("\n").split(SEP)
        if len(fields) == 6:
            sha, parents, tree, time, subject, trailers = fields
            entries.append(
                _Entry(sha, tuple(parents.split()), tree, int(time), subject, _trailers(trailers))
            )
    return entries


def _blobs(repo: Path, commits: Sequence[str]) -> dict[str, tuple[str | None, ...]]:
    """For each commit, the blob ids of the policy files in it (None when absent)."""
    lines = [f"{c}:{path}" for c in commits for path in POLICY_FILES]
    if not lines:
        return {}
    out = git.run(
        ["cat-file", "--batch-check=%(objectname)"], repo, input=("\n".join(lines) + "\n").encode()
    ).stdout.decode()
    ids = [None if line.endswith(" missing") else line for line in out.splitlines()]
    n = len(POLICY_FILES)
    return {c: tuple(ids[i * n : (i + 1) * n]) for i, c in enumerate(commits)}


def _policy(repo: Path, blobs: tuple[str | None, ...]) -> _Policy:
    def read(blob: str | None) -> bytes | None:
        return None if blob is None else git.run(["cat-file", "blob", blob], repo).stdout

    signers_data, revoked, config_data = (read(b) for b in blobs)
    text = signers_data.decode("utf-8", "replace") if signers_data else ""
    try:
        parsed = signers.parse(text)
    except LaneError:
        parsed, text = [], ""  # an unreadable file trusts nobody (fail closed)
    raw: Any = {}
    if config_data is not None:
        try:
            raw = yamlio.load(config_data.decode("utf-8", "replace"), config.CONFIG_PATH)
        except LaneError:
            raw = {}
    raw = raw if isinstance(raw, dict) else {}
    humans = config.settings(raw).humans
    human_of = {
        p: h for s in parsed for p in s.principals if (h := signers.human_of(p, humans)) is not None
    }
    agents = raw.get("agents") if isinstance(raw.get("agents"), dict) else {}
    return _Policy(
        text,
        revoked,
        human_of,
        frozenset(map(str, agents or {})),
        tuple(risk.rules_from_config(raw)),
    )


class _Auditor:
    def __init__(self, repo: Path, stack: ExitStack) -> None:
        self.repo = repo
        self.stack = stack
        self._policies: dict[tuple[str | None, ...], _Policy] = {}
        self._options: dict[tuple[str | None, ...], tuple[str, ...]] = {}
        self.blobs: dict[str, tuple[str | None, ...]] = {}

    def key_of(self, commit: str | None) -> tuple[str | None, ...]:
        nothing: tuple[str | None, ...] = (None,) * len(POLICY_FILES)
        return self.blobs.get(commit, nothing) if commit else nothing

    def policy(self, commit: str | None) -> tuple[_Policy, tuple[str, ...]]:
        """The policy in force at ``commit`` and git options verifying under it."""
        return self._load(self.key_of(commit))

    def _load(self, key: tuple[str | None, ...]) -> tuple[_Policy, tuple[str, ...]]:
        if key not in self._policies:
            policy = _policy(self.repo, key)
            self._policies[key] = policy
            self._options[key] = self.stack.enter_context(_verifying(policy))
        return self._policies[key], self._options[key]

    def commit(self, sha: str, at: str | None) -> gitverify.Commit:
        return gitverify.commit(self.repo, sha, self.policy(at)[1])

    def signed_by(self, entries: Sequence[_Entry]) -> dict[str, str]:
        """%GS of each commit, verified under the policy at its first parent, in batches."""
        groups: dict[tuple[str | None, ...], list[str]] = {}
        for entry in entries:
            key = self.key_of(entry.parents[0] if entry.parents else None)
            groups.setdefault(key, []).append(entry.sha)
        found: dict[str, str] = {}
        for key, shas in groups.items():
            _, options = self._load(key)
            for start in range(0, len(shas), BATCH):
                revisions = ["--no-walk=unsorted", *shas[start : start + BATCH]]
                for c in gitverify.commits(self.repo, revisions, options):
                    found[c.sha] = c.principal
        return found


@contextmanager
def _verifying(policy: _Policy) -> Iterator[tuple[str, ...]]:
    with signers.materialized(policy.signers_text) as allowed:
        revocation = None
        if policy.revoked is not None:
            revocation = allowed.with_name("revoked_signers")
            revocation.write_bytes(policy.revoked)
        with gitverify.verifying(allowed, revocation) as options:
            yield options


def default_rev(ws: Workspace) -> str:
    base = ws.settings.base_branch
    for ref in (f"refs/heads/{base}", f"refs/remotes/origin/{base}"):
        if git.rev_parse(ref, ws.root) is not None:
            return ref
    raise LaneError(f"the base branch '{base}' does not exist here", hint="pass --rev REV")


def audit(ws: Workspace, rev: str | None = None) -> HistoryReport:
    gitverify.refuse_shallow(ws.root)
    rev = rev or default_rev(ws)
    if git.rev_parse(rev, ws.root) is None:
        raise LaneError(f"'{rev}' is not a commit", hint="pass --rev with a branch or commit")
    entries = _walk(ws.root, rev)
    report = HistoryReport(rev)
    report.commits = len(entries)
    with ExitStack() as stack:
        auditor = _Auditor(ws.root, stack)
        auditor.blobs = _blobs(ws.root, sorted({e.parents[0] for e in entries if e.parents}))
        standing_seen: list[str] = []
        signed = auditor.signed_by([e for e in entries if len(e.parents) <= 1])
        for entry in entries:
            parent = entry.parents[0] if entry.parents else None
            if len(entry.parents) > 1:
                report.merges += 1
                finding = _merge(auditor, entry, standing_seen)
                report.lane_merges += finding is not None
                if isinstance(finding, Finding):
                    report.findings.append(finding)
            else:
                found = _direct(auditor, entry, parent, signed.get(entry.sha, ""))
                report.findings += found
                if entry.trailer(standing.PATHS_TRAILER) is not None and not found:
                    standing_seen.append(entry.sha)
    return report


def _direct(auditor: _Auditor, entry: _Entry, parent: str | None, signer: str) -> list[Finding]:
    policy, _ = auditor.policy(parent)
    reasons: list[str] = []
    task = entry.trailer("Lane-Merge") or entry.trailer("Lane-Task")
    if entry.trailer("Lane-Merge"):
        reasons.append("a squash or rebase merge: the signed approval is not in history")
    elif entry.trailer("Lane-Task") or entry.trailer(APPROVAL_TRAILER):
        reasons.append("lane work landed without a merge commit (fast-forward, rebase or pick)")
    actor = entry.trailer("Lane-Actor")
    if actor and policy.names_agent(actor):
        reasons.append(f"attributed to agent {actor} (Lane-Actor)")
    if signers.is_agent(signer):
        reasons.append(f"signed by {signer}; agents never commit to the base branch")
    return [Finding(entry.sha, "direct", "; ".join(reasons), task)] if reasons else []


def _lane_task(auditor: _Auditor, entry: _Entry, second: gitverify.Commit) -> str | None:
    """The task a merge brings in, or None when it is not lane work."""
    found = entry.trailer("Lane-Merge") or second.trailer("Lane-Task")
    if found:
        return found
    named = re.search(r"lanes/(T-[0-9A-Za-z]+)", entry.subject)
    if named:
        return named.group(1)
    text = git.out(
        [
            *_SAFE,
            "log",
            "--format=%(trailers:only,unfold)",
            second.sha,
            f"^{entry.parents[0]}",
            "--",
        ],
        auditor.repo,
    )
    pairs = _trailers(text)
    tasks = [v for k, v in pairs if k.lower() == "lane-task"]
    if tasks or any(k.lower() == "lane-actor" for k, _ in pairs):
        return tasks[0] if tasks else "an unnamed task"
    return None


def _merge(auditor: _Auditor, entry: _Entry, standing_seen: list[str]) -> Finding | bool | None:
    """A Finding for a bad lane merge, True for a good one, None when it is not lane work."""
    first, second_sha = entry.parents[0], entry.parents[1]
    policy, options = auditor.policy(first)
    second = auditor.commit(second_sha, first)
    task = _lane_task(auditor, entry, second)
    if task is None:
        return None

    def bad(reason: str) -> Finding:
        return Finding(entry.sha, "merge", reason, task)

    if len(entry.parents) > 2:
        return bad("an octopus merge; lane work is merged one task at a time")
    actor = entry.trailer("Lane-Actor")
    if actor and policy.names_agent(actor):
        return bad(f"made by agent {actor} (Lane-Actor); only humans merge")
    proc = git.run(
        [*_SAFE, "merge-tree", "--write-tree", "--no-messages", first, second_sha],
        auditor.repo,
        check=False,
    )
    if proc.returncode != 0 or proc.stdout.decode().split()[:1] != [entry.tree]:
        return bad("its tree is not the clean merge of its parents (changed in the merge itself)")
    changed = git.out(
        ["diff-tree", "-r", "--no-renames", "--name-only", "-z", first, entry.sha], auditor.repo
    ).split("\0")
    changed = [p for p in changed if p]
    tier = risk.compute("low", changed, policy.rules).effective
    if second.trailer(APPROVAL_TRAILER) is not None and len(second.parents) == 1:
        head = second.parents[0]
        problem = approval.check_commit(
            second,
            task_id=task if task.startswith("T-") else None,
            head=head,
            head_tree=standing.tree_of(auditor.repo, head),
            human_of=policy.human_of,
        )
        approved = second.trailer("Lane-Tier") or "low"
        if problem is None and risk.rank(approved) < risk.rank(tier):
            problem = f"it approves tier {approved}; the rules then in force make it {tier}"
        if problem is None and tier == "high":
            work = gitverify.commits(auditor.repo, [head, f"^{first}"], options)
            if any(
                c.principal == second.principal and c.trailer(APPROVAL_TRAILER) is None
                for c in work
            ):
                problem = "high tier, and the approver signed commits in the range"
        return bad(f"approval {second.sha[:7]} does not count: {problem}") if problem else True
    return _standing(auditor, entry, standing_seen, changed, tier, bad)


def _standing(
    auditor: _Auditor,
    entry: _Entry,
    seen: list[str],
    changed: list[str],
    tier: str,
    bad: Callable[[str], Finding],
) -> Finding | bool:
    first = entry.parents[0]
    policy, _ = auditor.policy(first)
    named = entry.trailer("Lane-Approval")
    candidates = [named] if named in seen else list(reversed(seen))
    when = datetime.fromtimestamp(entry.time, UTC)
    why = "no approval commit (its second parent is not one) and no standing approval"
    if tier != "low":
        return bad(f"{why}; a standing approval covers low tier only and this is {tier}")
    for sha in candidates:
        assert sha is not None
        c = auditor.commit(sha, first)
        empty = len(c.parents) == 1 and standing.tree_of(auditor.repo, c.parents[0]) == c.tree
        item = standing.from_commit(c, empty)
        problem = (
            "not a standing approval"
            if item is None
            else (standing.problem(item, changed, when, policy.human_of))
        )
        if problem is None:
            return True
        why = f"no approval commit, and the standing approval does not cover it: {problem}"
    return bad(why)
